"""markdown-it's smart quotes, in time that grows with a block's length, for both engines.

markdown-it-py's rule (`rules_core/smartquotes.process_inlines`) rewrites a token's
whole text for every quote it curls, searches a new copy of the text's rest for each
next quote, copies its stack of opening quotes at every token, and looks through that
stack from its top for each closing quote. Every one of those grows with the block, so
one paragraph of many quotes takes time that grows as its square: 256 KB of `"a" `
took 12 s, and 96 KB of openers followed by closers of the other kind 11 s, where an
ordinary article takes a millisecond. `curl` is the same algorithm, step for step,
without those costs:

- Every quote is curled into one character (markdown-it's default quotes, which the
  site's Markdown uses), so no position moves: the changes are noted and each changed
  text is made once, at the end. A quote is read where it was; what the rule learns
  from a character (punctuation, space, digit, letter) is the same for a straight quote
  and its curled form, so reading the text as it was or as it has become is the same.
- The stack of opening quotes only ever holds levels in rising order (it is cut down to
  a token's level before that token adds its own), so the opener a closing quote pairs
  with is the topmost of its kind, if that one is at the closing quote's level. Each
  opener keeps the place in the stack of the topmost opener of each kind at or below it.

`rule` puts `curl` in markdown-it-py's place (the reference engine, `markup.py`);
`markup_fast` uses it on the Rust engine's HTML. A test renders thousands of documents
with this rule and with markdown-it-py's own and finds the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from markdown_it.common.utils import isMdAsciiPunct, isPunctChar, isWhiteSpace
from markdown_it.rules_core.smartquotes import smartquotes as library_rule
from markdown_it.rules_core.state_core import StateCore
from markdown_it.token import Token

APOSTROPHE = "’"
DOUBLE = ("“", "”")  # markdown-it's default quotes: opening, closing
SINGLE = ("‘", "’")

# A text token with a quote: (its index among the block's tokens, its level, the lowest
# level of the tokens since the last such token, itself included).
Quoted = tuple[int, int, int]


def char_class(code: int) -> tuple[bool, bool]:
    """Whether a character is punctuation, and whether it is space, as markdown-it's smart quotes see it."""
    return isMdAsciiPunct(code) or isPunctChar(chr(code)), isWhiteSpace(code)


CLASS = [char_class(code) for code in range(128)]  # (the ASCII characters', looked up)


def curl(quoted: Iterable[Quoted], text_of: Callable[[int], str],
         neighbour: Callable[[int, int], int]) -> dict[int, str]:
    """markdown-it-py's `process_inlines` on one block: the tokens at `quoted` are those it
    may change; `text_of(i)` is token i's text, `neighbour(i, step)` the character code
    next to token i before it (`step` -1) or after it (1), past tokens without text and
    not past a line break (a space there, 0x20). The new text of each token changed."""
    edits: dict[int, list[tuple[int, str]]] = {}  # token: (position, its new character), ...
    # Opening quotes: (token, position, level, and the place in the stack of the topmost
    # double and the topmost single one at or below this one, -1 for none).
    stack: list[tuple[int, int, int, int, int]] = []
    for i, this_level, low in quoted:
        if stack and stack[-1][2] > low:
            size = len(stack)
            while size and stack[size - 1][2] > low:
                size -= 1
            del stack[size:]
        text = text_of(i)
        end = len(text)
        a, d = text.find("'"), text.find('"')
        while a >= 0 or d >= 0:
            single = d < 0 or 0 <= a < d
            if single:
                index, a = a, text.find("'", a + 1)
            else:
                index, d = d, text.find('"', d + 1)
            pos = index + 1
            if single and index and pos < end and text[index - 1].isalnum() and text[pos].isalnum():
                # An apostrophe in a word (it's, 5'11): neither opens nor closes (no letter or
                # digit is punctuation or space to markdown-it), so it is a right single quote.
                edits.setdefault(i, []).append((index, APOSTROPHE))
                continue
            last = ord(text[index - 1]) if index > 0 else neighbour(i, -1)
            nxt = ord(text[pos]) if pos < end else neighbour(i, 1)
            last_punct, last_space = CLASS[last] if last < 128 else char_class(last)
            next_punct, next_space = CLASS[nxt] if nxt < 128 else char_class(nxt)
            can_open = not (next_space or (next_punct and not (last_space or last_punct)))
            can_close = not (last_space or (last_punct and not (next_space or next_punct)))
            if nxt == 0x22 and not single and 0x30 <= last <= 0x39:
                can_open = can_close = False  # 1"" - the first one is an inch
            if can_open and can_close:
                can_open, can_close = last_punct, next_punct
            if not can_open and not can_close:
                if single:
                    edits.setdefault(i, []).append((index, APOSTROPHE))
                continue
            if can_close and stack:
                k = stack[-1][3 + single]
                if k >= 0 and stack[k][2] == this_level:
                    opener, at = stack[k][:2]
                    opening, closing = SINGLE if single else DOUBLE
                    edits.setdefault(i, []).append((index, closing))
                    edits.setdefault(opener, []).append((at, opening))
                    del stack[k:]
                    continue
            if can_open:
                n = len(stack)
                below = stack[-1] if stack else (0, 0, 0, -1, -1)
                stack.append((i, index, this_level, below[3], n) if single else (i, index, this_level, n, below[4]))
            elif can_close and single:
                edits.setdefault(i, []).append((index, APOSTROPHE))
    changed: dict[int, str] = {}
    for i, marks in edits.items():
        text = text_of(i)  # (as it was: no token is changed before `curl` returns)
        if len(marks) == 1:
            at, quote = marks[0]
            changed[i] = text[:at] + quote + text[at + 1:]
            continue
        marks.sort()
        parts: list[str] = []
        done = 0
        for at, quote in marks:
            parts += (text[done:at], quote)
            done = at + 1
        parts.append(text[done:])
        changed[i] = "".join(parts)
    return changed


def rule(state: StateCore) -> None:
    """markdown-it-py's `smartquotes` core rule, by `curl`: the same text in every token.
    (Quotes of other than one character, which this site's Markdown never sets, are left
    to the library's own rule.)"""
    if not state.md.options.typographer:
        return
    if tuple(state.md.options.quotes) != (*DOUBLE, *SINGLE):
        library_rule(state)
        return
    for token in state.tokens:
        if token.type == "inline" and token.children and ("'" in token.content or '"' in token.content):
            _curl_tokens(token.children)


def _curl_tokens(children: list[Token]) -> None:
    """One block's inline tokens, their quotes curled."""
    quoted: list[Quoted] = []
    low = -1
    for i, child in enumerate(children):
        if low < 0 or child.level < low:
            low = child.level
        if child.type == "text" and ("'" in child.content or '"' in child.content):
            quoted.append((i, child.level, low))
            low = -1
    if not quoted:
        return

    def text_of(i: int) -> str:
        return children[i].content

    def neighbour(i: int, step: int) -> int:
        j = i + step
        while 0 <= j < len(children):
            child = children[j]
            if child.type in ("softbreak", "hardbreak"):
                break
            if child.content:
                return ord(child.content[-1] if step < 0 else child.content[0])
            j += step
        return 0x20

    for i, text in curl(quoted, text_of, neighbour).items():
        children[i].content = text
