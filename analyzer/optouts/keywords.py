"""Opt-out, opt-in and help keywords, and reading inbound bodies against them.

A keyword counts only when the whole inbound body, trimmed of surrounding whitespace,
equals it, ignoring case. A body that merely contains an opt-out keyword ("STOP.",
"stop texting me", "STOP ALL") changes nothing but is a near miss: possible opt-out
intent a human should read.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError
from analyzer.vocabulary import OptoutKind

#: Twilio's default keywords (a Messaging Service's Advanced Opt-Out can change them).
DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
DEFAULT_OPT_IN = ("START", "YES", "UNSTOP")
DEFAULT_HELP = ("HELP", "INFO")
#: Opt-out words too common in ordinary messages ("see you at the end") to mean intent
#: anywhere in a body: a near miss only when the body starts with them.
COMMON_WORDS = frozenset({"END", "CANCEL", "QUIT", "REVOKE"})


@dataclass(frozen=True)
class Keywords:
    """The keywords of each kind, upper-case."""

    opt_out: tuple[str, ...] = DEFAULT_OPT_OUT
    opt_in: tuple[str, ...] = DEFAULT_OPT_IN
    help: tuple[str, ...] = DEFAULT_HELP

    @classmethod
    def from_file(cls, path: str | Path) -> Keywords:
        """Keywords from a TOML file whose ``opt_out``, ``opt_in`` and ``help`` lists (each
        optional, at the top or under ``[keywords]``) replace the defaults."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"no such keywords file: {path}") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read the keywords file {path}: {exc}") from None
        data = data.get("keywords", data)
        unknown = sorted(set(data) - {"opt_out", "opt_in", "help"})
        if unknown:
            raise InputError(f"{path}: unknown keyword list(s): {', '.join(unknown)}")
        lists = {}
        for name, words in data.items():
            if not isinstance(words, list) or not all(
                isinstance(w, str) and w.strip() for w in words
            ):
                raise InputError(f"{path}: {name} must be a list of words")
            lists[name] = tuple(w.strip().upper() for w in words)
        return cls(**lists)

    def kind_of(self) -> dict[str, OptoutKind]:
        """Each keyword's kind (a word in two lists counts as the first: opt-out first)."""
        kinds: dict[str, OptoutKind] = {}
        for kind, words in (
            (OptoutKind.OPT_OUT, self.opt_out),
            (OptoutKind.OPT_IN, self.opt_in),
            (OptoutKind.HELP, self.help),
        ):
            for word in words:
                kinds.setdefault(word, kind)
        return kinds


@dataclass
class ReadBodies:
    """What each inbound body is: a keyword (and its kind), a near miss, or neither."""

    keyword: pa.Array
    kind: pa.Array
    near_miss: pa.Array


def read_bodies(bodies: pa.Array | pa.ChunkedArray, keywords: Keywords) -> ReadBodies:
    """Match inbound bodies against the keywords."""
    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(bodies, pa.string())))
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    kinds = keywords.kind_of()
    words = pa.array(list(kinds), pa.string())
    position = pc.index_in(text, value_set=words)
    found = pc.is_valid(position)
    keyword = pc.if_else(found, text, pa.scalar(None, pa.string()))
    kind = pa.array([str(k) for k in kinds.values()], pa.string()).take(position)
    escaped = [re.escape(w) for w in keywords.opt_out]
    anywhere = [re.escape(w) for w in keywords.opt_out if w not in COMMON_WORDS]
    pattern = rf"^({'|'.join(escaped)})\b"
    if anywhere:
        pattern += rf"|\b({'|'.join(anywhere)})\b"
    mentions = pc.match_substring_regex(text, pattern) if escaped else pc.is_null(text)
    near = pc.and_(pc.fill_null(mentions, False), pc.invert(found))
    return ReadBodies(keyword=keyword, kind=kind, near_miss=near)
