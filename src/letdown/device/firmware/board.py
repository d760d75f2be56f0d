"""The reference board: the drivers for every part, built from a ``machine`` module.

``Board(machine)`` takes MicroPython's ``machine`` on the RP2040, or a stand-in whose
I2C, Pin and PWM are bound to the simulated parent and pump.
"""

import config
import drivers


class Board:
    def __init__(self, machine):
        Pin = machine.Pin
        self.pressure = [
            drivers.Mprls(
                machine.I2C(
                    config.I2C_BUS[side],
                    sda=Pin(config.I2C_SDA[side]),
                    scl=Pin(config.I2C_SCL[side]),
                    freq=config.I2C_HZ,
                ),
                config.MPRLS_ADDRESS,
            )
            for side in (0, 1)
        ]
        self.scales = [
            drivers.Hx711(
                Pin(config.HX711_DOUT[side], Pin.IN), Pin(config.HX711_SCK[side], Pin.OUT)
            )
            for side in (0, 1)
        ]
        self.scale_offset = [config.HX711_OFFSET, config.HX711_OFFSET]
        self.scale_counts_per_g = [config.HX711_COUNTS_PER_G, config.HX711_COUNTS_PER_G]
        self.motors = [
            drivers.Motor(machine.PWM(Pin(config.MOTOR_PWM[side])), config.PWM_HZ)
            for side in (0, 1)
        ]
        self.vents = [drivers.Vent(Pin(config.VENT_PIN[side], Pin.OUT)) for side in (0, 1)]
        pins = (
            config.BUTTON_TOO_MUCH[0],
            config.BUTTON_TOO_MUCH[1],
            config.BUTTON_LIMIT[0],
            config.BUTTON_LIMIT[1],
            config.BUTTON_STOP,
        )
        self.buttons = [drivers.Button(Pin(pin, Pin.IN, Pin.PULL_UP)) for pin in pins]
        self.wdt = machine.WDT(timeout=config.WDT_MS)

    def feed(self):
        self.wdt.feed()
