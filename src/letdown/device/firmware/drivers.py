"""Drivers for the reference pump's parts, written against MicroPython's ``machine``.

Each takes the ``machine``-style objects it drives (I2C, Pin, PWM), so the same code runs
on the RP2040 and, in tests, against stand-ins bound to the simulated parent and pump.
"""

PSI_TO_MMHG = 51.71493
"""1 psi = 51.71493 mmHg (NIST SP 811, unit conversions)."""

MPRLS_MIN_COUNTS = 1677722
MPRLS_MAX_COUNTS = 15099494
"""10 % and 90 % of 2**24: the MPRLS transfer function (Honeywell MPR series datasheet,
transfer function A)."""
MPRLS_MAX_PSI = 25.0
"""MPRLS0025PA00001A: 0-25 psi absolute."""
MPRLS_BUSY = 0x20
MPRLS_ERRORS = 0x05
"""Status bits: busy, memory integrity error, math saturation (datasheet, table 14)."""


class Mprls:
    """Honeywell MPRLS pressure sensor; ``read_psi`` returns the last conversion and
    starts the next, so a loop never waits the ~5 ms a conversion takes."""

    def __init__(self, i2c, address=0x18):
        self.i2c = i2c
        self.address = address
        self._buf = bytearray(4)
        self.start()

    def start(self):
        self.i2c.writeto(self.address, b"\xaa\x00\x00")

    def read_psi(self):
        """Absolute pressure in psi, or None when the sensor is busy, faulty or absent."""
        try:
            self.i2c.readfrom_into(self.address, self._buf)
            self.start()
        except OSError:
            return None
        status = self._buf[0]
        if status & (MPRLS_BUSY | MPRLS_ERRORS):
            return None
        counts = (self._buf[1] << 16) | (self._buf[2] << 8) | self._buf[3]
        return (counts - MPRLS_MIN_COUNTS) * MPRLS_MAX_PSI / (MPRLS_MAX_COUNTS - MPRLS_MIN_COUNTS)


class Hx711:
    """HX711 load-cell amplifier, bit-banged (channel A, gain 128: 25 clocks)."""

    def __init__(self, dout, sck):
        self.dout = dout
        self.sck = sck
        self.sck.value(0)

    def ready(self):
        return self.dout.value() == 0

    def read(self):
        """The signed 24-bit conversion, or None when none is ready."""
        if not self.ready():
            return None
        value = 0
        sck = self.sck
        dout = self.dout
        for _ in range(24):
            sck.value(1)
            sck.value(0)
            value = (value << 1) | dout.value()
        sck.value(1)
        sck.value(0)
        if value & 0x800000:
            value -= 0x1000000
        return value


class Motor:
    """A diaphragm pump on a low-side MOSFET, PWM duty 0..1."""

    def __init__(self, pwm, freq_hz):
        self.pwm = pwm
        self.pwm.freq(freq_hz)
        self.pwm.duty_u16(0)
        self.duty = 0.0

    def set(self, duty):
        duty = 0.0 if not duty > 0.0 else (1.0 if duty > 1.0 else duty)
        self.duty = duty
        self.pwm.duty_u16(int(duty * 65535))


class Vent:
    """A normally-open solenoid vent: powered it closes; unpowered (or a reset) vents."""

    def __init__(self, pin):
        self.pin = pin
        self.set(True)

    def set(self, open_):
        self.open = bool(open_)
        self.pin.value(0 if self.open else 1)


class Button:
    """A push button to ground with a pull-up; ``poll`` is True once per press.

    A press counts when the pin reads low on two polls in a row after reading high,
    which rejects contact bounce shorter than one loop (10 ms).
    """

    def __init__(self, pin):
        self.pin = pin
        self._low = 0
        self._armed = True

    def poll(self):
        if self.pin.value():
            self._low = 0
            self._armed = True
            return False
        self._low += 1
        if self._armed and self._low >= 2:
            self._armed = False
            return True
        return False
