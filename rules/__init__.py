"""Rules: pure functions from (Document, Extraction) to Findings.

Each rule has an id, a category, a severity and a Chinese message; see `registry.rule`.
"""

from nianbao.rules.registry import RULES, RuleContext, apply_fills, rule, run_rules

__all__ = ["RULES", "RuleContext", "apply_fills", "rule", "run_rules"]
