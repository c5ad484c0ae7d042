"""What a language-model check's result has in common (KL divergence, generation): the two models, the
device, the budget and the failures in words; the record the reports keep and the message a user reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Verdict:
    original: str
    optimized: str
    device: str
    budget: Any  # a frozen dataclass: the marker's budget
    failures: list[str]
    built: dict[str, Any] | None = field(default=None, kw_only=True)  # the recipe's build, when one built it

    @property
    def ok(self) -> bool:
        return not self.failures

    def common(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "optimized": self.optimized,
            "device": self.device,
            "budget": asdict(self.budget),
            "failures": list(self.failures),
            **({"optimization": self.built} if self.built else {}),
        }

    def message(self, check: str, what: str, body: str) -> str:
        """The headline (``check`` ok/FAILED, the models, device and ``what`` was judged), each failure, ``body``."""
        head = f"{check} {'ok' if self.ok else 'FAILED'}: {self.optimized} against {self.original} on {self.device}, {what}"
        return "\n".join([head, *(f"  {f}" for f in self.failures), body])
