"""The reference pump's wiring and declared spec (docs/hardware.md has the tables).

Pins are Raspberry Pi Pico GPIO numbers. The declared spec is what the maker of this
pump states about its pneumatics; the hello carries it to the host, and the safety core
takes its limits from it (``letdown pump --selftest`` measures and checks it).
"""

# Per side: index 0 is left, 1 is right.
I2C_BUS = (0, 1)
"""Each MPRLS on its own I2C bus: both sensors have the fixed address 0x18."""
I2C_SDA = (4, 6)
I2C_SCL = (5, 7)
I2C_HZ = 400000
MPRLS_ADDRESS = 0x18
HX711_DOUT = (10, 12)
HX711_SCK = (11, 13)
MOTOR_PWM = (16, 17)
PWM_HZ = 20000
"""Above hearing, within what a logic-level MOSFET switches cleanly."""
VENT_PIN = (18, 19)
"""High powers the solenoid and closes a normally-open vent; low or no power vents."""
BUTTON_TOO_MUCH = (20, 21)
BUTTON_LIMIT = (14, 15)
BUTTON_STOP = 22
"""Buttons pull to ground; the pins have pull-ups."""

TICK_MS = 10
"""The firmware's loop: sensors read and a reading sent every 10 ms (100 Hz)."""
WDT_MS = 250
"""machine.WDT: a hung loop resets the MCU, whose pins then float low: motors off,
vents open."""

HX711_COUNTS_PER_G = 420.0
"""Counts per gram of a 1 kg bar load cell at the HX711's gain 128 (calibrated per unit
by ``letdown pump --selftest``; this is the nominal figure)."""
HX711_OFFSET = 8000
MILK_G_PER_ML = 1.03
"""ASSUMPTION: the density of human milk is about 1.03 g/mL, the usual conversion in
test-weighing; an estimate, not measured here."""

SPEC = (
    630.0,  # max_rise_mmhg_s: fastest rise from atmosphere at full duty
    375.0,  # stall_mmhg: the pump can pull past the cap; only vents and software stop it
    15.0,  # vent_per_s_min
    35.0,  # vent_per_s_max
    0.3,  # leak_per_s_max
    1.0,  # pressure_noise_mmhg
    0.01,  # pressure_period_s
    0.5,  # volume_noise_ml
    0.1,  # volume_period_s
    0.25,  # watchdog_s: host silent or loop stalled this long, outputs go safe
    760.0,  # sensor_span_mmhg: MPRLS 0-25 psi absolute reads vacuum down to 0 psi
)
"""The declared spec, in ``link.SPEC_FIELDS`` order (the figures of the simulated pump's
hardware model, twin.md §2, which this reference build targets)."""
