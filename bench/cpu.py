"""CPU seconds spent by each group of processes over a phase, read from /proc (Linux).

A phase is bracketed by two snapshots. A process is counted from the first snapshot it appears
in, or from zero if it was born during the phase (a PostgreSQL backend a new worker opens); one
that exits before the second snapshot is lost to the count, so the harness takes the second
snapshot before it stops anything. CPU time is the kernel's user + system time of each process:
unlike throughput, it hardly moves when other work shares the machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def process_cpu(pid: int) -> tuple[float, int] | None:
    """(user + system CPU seconds, start time in ticks since boot), or None once the process is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state is field 3, utime 14, stime 15, starttime 22 (proc(5)), here shifted by 3.
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[19])


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent outside idle and iowait since boot (/proc/stat)."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def _boot_ticks_now() -> float:
    return float((PROC / "uptime").read_text().split()[0]) * TICKS


@dataclass
class Snapshot:
    processes: dict[str, dict[int, float]]
    machine: float
    ticks: float


@dataclass
class Usage:
    """CPU seconds per group over one phase, and the whole machine's busy seconds meanwhile."""

    seconds: dict[str, float] = field(default_factory=dict)
    machine: float = 0.0

    @property
    def ours(self) -> float:
        return sum(self.seconds.values())

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


class CpuMeter:
    """Groups are named functions that list the pids belonging to them at the moment they are called."""

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]):
        self.groups = groups

    def snapshot(self) -> Snapshot:
        processes = {}
        for name, pids in self.groups.items():
            cpu = {pid: usage[0] for pid in set(pids()) if (usage := process_cpu(pid)) is not None}
            processes[name] = cpu
        return Snapshot(processes=processes, machine=machine_busy_seconds(), ticks=_boot_ticks_now())

    def since(self, start: Snapshot) -> Usage:
        end = self.snapshot()
        usage = Usage(machine=end.machine - start.machine)
        for name, cpu in end.processes.items():
            before = start.processes.get(name, {})
            total = 0.0
            for pid, seconds in cpu.items():
                if pid in before:
                    total += seconds - before[pid]
                else:
                    born = process_cpu(pid)
                    # A process born during the phase counts from zero; an older one that joined the group
                    # late (it had other work before) cannot be split and is left out.
                    if born is not None and born[1] >= start.ticks - TICKS:
                        total += seconds
            usage.add(name, total)
        return usage
