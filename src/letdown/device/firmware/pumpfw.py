"""The pump's firmware logic: link, buttons, sensors and the safety core, per 10 ms.

``Firmware`` owns no hardware: it gets a ``board`` (the drivers, ``board.py``) and a
``port`` (bytes in and out), so the same code runs on the RP2040 (``main.py``) and in a
CPython peer process whose drivers are bound to the simulated parent and pump
(``letdown.device.fwpeer``).

Where the cycle is made: on the host. The host's controller sends each side's duty and
vent every 10 ms, and this loop applies them through the core. When the host falls
silent for more than ``STALE_MS`` (a pause, a busy machine), the firmware does not keep
running the last duty blindly: it holds each side's vacuum where it was when the host
paused (a proportional hold on the MCU) until commands come back, so a pause of tens of
milliseconds can neither overshoot the peak nor drop the seal; past ``HOST_TIMEOUT_MS``
it vents. The core checks every output whatever this file decides.

Each step is split in two so a simulation can put the plant between them:
``control(now_ms)`` takes the host's frames and the buttons and sets the outputs;
``sense(now_ms)`` reads the sensors and sends the reading.
"""

import config
import core
import link

STALE_MS = 15
"""A command older than this (1.5 ticks) is stale: hold the vacuum, do not pull on."""
HOLD_GAIN_PER_MMHG = 0.05
HOLD_DUTY = 0.05
"""The hold's proportional duty, the same law as the host's tracker near its peak."""
PRESS_KINDS = ("too_much", "too_much", "limit", "limit", "stop")
PRESS_SIDES = (0, 1, 0, 1, None)
NAN = float("nan")

def make_core(spec, now_s):
    """The safety core (issue 9's, unchanged) with limits from the declared spec and the
    absolute caps."""
    limits = core.Limits(
        spec[0], spec[1], spec[2], spec[3], spec[4], spec[5], spec[6], spec[7], spec[8], spec[9]
    )
    # Made within a loop whose tick comes next: its clock starts one tick back.
    return core.Core(limits, now_s - config.TICK_MS / 1000.0)


def fault_code(reason):
    """A fault's reason as the link's code (1, "core", for one the link has no name for)."""
    for index in range(len(link.FAULT_REASONS)):
        if link.FAULT_REASONS[index] == reason:
            return index
    return 1


class Firmware:
    """One pump's firmware state. ``boot_id`` changes at every power-up or reset."""

    def __init__(self, board, port, boot_id, now_ms, spec=config.SPEC):
        self.board = board
        self.port = port
        self.boot_id = boot_id
        self.spec = spec
        self.core = make_core(spec, now_ms / 1000.0)
        self.deframer = link.Deframer()
        self.rx = link.Sequence()
        self.tx_seq = 0
        self.connected = False
        self.last_host_ms = now_ms
        self.last_command_ms = now_ms
        self.command = [0.0, 0.0, True, True]
        self.ceilings = [NAN, NAN]
        self.acks = [0, 0, 0, 0, 0]
        self.presses = [0, 0, 0, 0, 0]
        self.stale_target = [None, None]
        self.host_silent = False
        self.ack_seq = 0
        self.link_errors = 0
        self.vacuum = [NAN, NAN]
        self.host_silent = False
        self.volume = [NAN, NAN]
        self.volume_ms = 0
        self.zero_psi = [None, None]
        self.zero_samples = [[], []]
        self.outputs = (0.0, True, 0.0, True)
        self.core.trip("not_connected", None, now_ms / 1000.0)
        self.send(link.HELLO, link.pack_hello(boot_id, spec))

    # --- the link --------------------------------------------------------------------
    def send(self, kind, body):
        self.port.write(link.seal(kind, self.tx_seq, body))
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF

    def trip(self, reason, side, now_ms):
        self.core.trip(reason, side, now_ms / 1000.0)

    def receive(self, now_ms):
        data = self.port.read()
        if not data:
            return
        for frame in self.deframer.feed(data):
            try:
                kind, seq, body = link.open_frame(frame)
            except link.LinkError as error:
                self.link_errors += 1
                if self.connected:
                    self.trip("link_" + error.kind, None, now_ms)
                continue
            if kind == link.HELLO_REQUEST:
                # A host (re)opened the port: a fresh link; outputs stay off until it
                # rearms with its first command.
                self.rx.reset()
                self.rx.check(seq)
                self.connected = True
                self.last_host_ms = now_ms
                self.send(link.HELLO, link.pack_hello(self.boot_id, self.spec))
                continue
            if not self.connected:
                continue
            problem = self.rx.check(seq)
            if problem is not None:
                self.link_errors += 1
                self.trip("link_sequence", None, now_ms)
                continue
            self.last_host_ms = now_ms
            self.ack_seq = seq
            if kind == link.COMMAND:
                self.apply_command(link.unpack_command(body), now_ms)
            elif kind == link.SAFE:
                self.trip("host_safe", None, now_ms)

    def apply_command(self, command, now_ms):
        duty_l, duty_r, flags, ceiling_l, ceiling_r, acks = command
        if flags & link.REARM:
            self.rearm(now_ms)
        self.command = [duty_l, duty_r, bool(flags & link.VENT_LEFT), bool(flags & link.VENT_RIGHT)]
        self.last_command_ms = now_ms
        self.stale_target = [None, None]
        self.acks = list(acks)
        for side, ceiling in ((0, ceiling_l), (1, ceiling_r)):
            if ceiling == ceiling and ceiling != self.ceilings[side] and ceiling > 0.0:
                self.ceilings[side] = ceiling
                try:
                    # A raise (one step at most) only when the parent asked; a lowering
                    # always, even in the command that raises the other side.
                    if flags & link.PARENT_RAISE:
                        self.core.raise_ceiling(side, ceiling)
                    self.core.lower_ceiling(side, ceiling)
                except ValueError:
                    self.trip("bad_command", side, now_ms)
        if flags & link.KICK:
            self.core.kick()

    def rearm(self, now_ms):
        """A new core (the old one's fault is cleared): outputs off until commanded."""
        self.core = make_core(self.spec, now_ms / 1000.0)
        self.ceilings = [NAN, NAN]
        self.host_silent = False

    # --- one loop --------------------------------------------------------------------
    def control(self, now_ms):
        """Take the host's frames and the buttons; set motors and vents through the core."""
        self.receive(now_ms)
        if self.connected and now_ms - self.last_host_ms > link.HOST_TIMEOUT_MS:
            if not self.host_silent:
                self.host_silent = True
                # Outputs already safe: nothing to latch (the host may come back).
                if self.outputs[0] > 0.0 or self.outputs[2] > 0.0:
                    self.trip("host_silent", None, now_ms)
                elif not (self.outputs[1] and self.outputs[3]):
                    self.trip("host_silent", None, now_ms)
        self.poll_buttons(now_ms)
        stale = now_ms - self.last_command_ms > STALE_MS
        for side in (0, 1):
            duty = self.command[side]
            vent = self.command[2 + side]
            if stale and not vent and duty > 0.0:
                duty = self.hold_duty(side)
            try:
                self.core.request(side, duty, vent)
            except ValueError:
                pass  # the core latched a bad_command fault
        vacuum = self.vacuum
        now_s = now_ms / 1000.0
        self.outputs = outputs = self.core.tick(
            now_s,
            vacuum[0] if vacuum[0] == vacuum[0] else None,
            vacuum[1] if vacuum[1] == vacuum[1] else None,
            self.volume[0] if self.volume[0] == self.volume[0] else None,
            self.volume[1] if self.volume[1] == self.volume[1] else None,
            self.volume_ms / 1000.0 if self.volume_ms else None,
            False,
        )
        board = self.board
        # Motors off before vents open, on every path.
        board.motors[0].set(outputs[0])
        board.motors[1].set(outputs[2])
        board.vents[0].set(outputs[1])
        board.vents[1].set(outputs[3])
        board.feed()

    def hold_duty(self, side):
        """Hold the vacuum the side had when the host went quiet."""
        vacuum = self.vacuum[side]
        if not vacuum == vacuum:
            return 0.0
        if self.stale_target[side] is None:
            self.stale_target[side] = vacuum
        duty = HOLD_GAIN_PER_MMHG * (self.stale_target[side] - vacuum) + HOLD_DUTY
        duty = 1.0 if duty > 1.0 else (0.0 if duty < 0.0 else duty)
        return duty if duty < self.command[side] else self.command[side]

    def poll_buttons(self, now_ms):
        buttons = self.board.buttons
        for index in range(link.BUTTONS):
            if buttons[index].poll():
                # Acted on here at once (the core stops, lowers or pauses the side),
                # then reported to the host.
                self.presses[index] = (self.presses[index] + 1) & 0xFF
                self.core.press(PRESS_KINDS[index], PRESS_SIDES[index], now_ms / 1000.0)

    def sense(self, now_ms):
        """Read both pressure sensors (and the scales when ready); send the reading."""
        board = self.board
        for side in (0, 1):
            psi = board.pressure[side].read_psi()
            zero = self.zero_psi[side]
            if psi is None:
                self.vacuum[side] = NAN
            elif zero is None:
                # Atmosphere, measured at power-up with the vents open.
                samples = self.zero_samples[side]
                # The first 10 are skipped: a reset may come while a vent still releases.
                samples.append(psi)
                self.vacuum[side] = NAN
                if len(samples) >= 30:
                    self.zero_psi[side] = sum(samples[10:]) / 20
            else:
                self.vacuum[side] = (zero - psi) * 51.71493
            counts = board.scales[side].read()
            if counts is not None:
                grams = (counts - board.scale_offset[side]) / board.scale_counts_per_g[side]
                self.volume[side] = grams / config.MILK_G_PER_ML
                self.volume_ms = now_ms
        flags = 0
        fault = self.core.fault
        code = 0
        side = -1
        if fault is not None:
            flags |= link.FAULT
            code = fault_code(fault.reason)
            side = -1 if fault.side is None else fault.side
        elif self.core.stopped:
            flags |= link.STOPPED
            code = fault_code(self.core.stopped)
        if self.host_silent:
            flags |= link.HOST_SILENT
        if self.core.paused(0):
            flags |= link.HOLD_LEFT
        if self.core.paused(1):
            flags |= link.HOLD_RIGHT
        outputs = self.outputs
        if outputs[1]:
            flags |= link.APPLIED_VENT_LEFT
        if outputs[3]:
            flags |= link.APPLIED_VENT_RIGHT
        self.send(
            link.READING,
            link.pack_reading(
                now_ms,
                self.vacuum[0],
                self.vacuum[1],
                self.volume[0],
                self.volume[1],
                self.volume_ms,
                self.presses,
                flags,
                code,
                side,
                self.ack_seq,
                self.link_errors,
                self.boot_id & 0xFFFF,
                int(outputs[0] * 255),
                int(outputs[2] * 255),
            ),
        )
