"""Vendors' credentials known by their shape: a documented prefix, alphabet and length, wherever they appear.

These prefixes exist so that scanners can find leaked keys (GitHub secret scanning, gitleaks); the redaction
policy (``app.core.redaction``) finds them the same way, in any text, with no sensitive word before them. A token
stands alone: a longer run of the same characters, or the wrong length or alphabet, is something else and stays.
"""

from __future__ import annotations

import re

# (what it is, its shape). Lengths are those the vendors document, with room above where they say keys may grow.
_SHAPES = (
    # Stripe secret and restricted keys, live and test alike (a test key still opens the account's test data).
    ("stripe", r"[sr]k_(?:live|test)_[0-9A-Za-z]{10,247}+"),
    # GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens; fine-grained personal tokens.
    ("github", r"gh[pousr]_[0-9A-Za-z]{36,251}+"),
    ("github fine-grained", r"github_pat_[0-9A-Za-z_]{22,244}+"),
    # Slack bot, user, app and configuration tokens.
    ("slack", r"xox[abposr]-[0-9A-Za-z-]{10,250}+"),
    # AWS access key ids (the secret key beside one has no prefix: it is found by its name, or not at all).
    ("aws", r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
    ("gitlab", r"glpat-[0-9A-Za-z_-]{20,250}+"),
    # OpenAI project, service-account and admin keys, and the older user keys.
    ("openai", r"sk-(?:proj|svcacct|admin)-[0-9A-Za-z_-]{20,250}+|sk-[0-9A-Za-z]{20}T3BlbkFJ[0-9A-Za-z]{20}"),
    ("npm", r"npm_[0-9A-Za-z]{36}"),
    ("google api key", r"AIza[0-9A-Za-z_-]{35}"),
)
_EDGE = "0-9A-Za-z_-"
TOKEN = re.compile(rf"(?<![{_EDGE}])(?:{'|'.join(shape for _, shape in _SHAPES)})(?![{_EDGE}])")
# A Slack incoming webhook's path is its credential: the URL stays, the path after the kind of hook goes.
SLACK_WEBHOOK = re.compile(
    r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[0-9A-Za-z+/]{20,250}+(?![0-9A-Za-z+/])"
)
# Substrings without which no shape can match: a few scans in C decide whether the rule runs at all.
HINTS: tuple[str, ...] = ("k_live_", "k_test_", "gh", "github_pat_", "xox", "A3T", "AKIA", "ASIA", "ABIA", "ACCA")
HINTS += ("glpat-", "sk-", "npm_", "AIza")
