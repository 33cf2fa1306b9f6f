"""What one submission may spend in the sandbox: time per call, test and submission, memory,
processes, files, scratch space and output kept (grader/core/sandbox.py enforces the clocks,
the worker its rlimits)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.worker.settings import WorkerLimits


@dataclass(frozen=True)
class Limits:
    call_seconds: float = 30.0
    test_seconds: float = 120.0
    submission_seconds: float = 1200.0
    memory_bytes: int = 4 * 2**30  # on top of what the worker holds after importing torch
    processes: int = 256  # threads count too (torch's pools)
    file_bytes: int = 2 * 2**30
    open_files: int = 256
    scratch_mb: int = 1024
    output_bytes: int = 64 * 1024

    def for_worker(self, memory_cgroup: bool, address_space: bool) -> WorkerLimits:
        """A worker's rlimits: under a memory cgroup (which counts shared mappings), or else with
        RLIMIT_AS where `address_space` (it counts mapped files too, and a worker may map a
        scratch file as large as the scratch)."""
        return WorkerLimits(
            cpu_seconds=int(self.submission_seconds) + 5,
            data_bytes=self.memory_bytes,
            processes=self.processes,
            file_bytes=self.file_bytes,
            open_files=self.open_files,
            address_space_bytes=self.memory_bytes + self.scratch_mb * 2**20 if address_space and not memory_cgroup else None,
            memory_cgroup=memory_cgroup,
        )
