"""Text as Telegram stores it: HTML ``parse_mode`` turned into plain text plus entities.

Telegram never returns markup: a message sent with ``parse_mode=HTML`` comes back with ``text``
stripped of tags, entities decoded, and the formatting as ``entities`` whose offsets and lengths
count UTF-16 code units. The sandbox does the same, and keeps the raw text on the side (see
:class:`bot.sandbox.state.MessageRecord`), so tests can assert on either. Like Telegram, it
refuses malformed HTML (an unknown tag, a bare ``<``, an unclosed tag) with a 400
``can't parse entities``, which catches user-provided names interpolated without escaping.

``Markdown`` and ``MarkdownV2`` are accepted but not interpreted: the text is kept as sent.
"""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.faults import BotApiFault

# Tag name -> entity type. ``span`` is only valid with class="tg-spoiler" (checked below).
_ENTITY_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_CHAR_REF = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]{5,32}(?![A-Za-z0-9_])")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def render(
    text: str, parse_mode: str | None, entities: list[Any] | None
) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for a text the bot sent, trimmed of outer whitespace like Telegram.

    Raises :class:`BotApiFault` for an unknown ``parse_mode`` or malformed HTML.
    """
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        plain, found = parse_html(text)
    elif mode in ("", "markdown", "markdownv2"):
        plain = text
        found = [dict(e) for e in entities or [] if isinstance(e, dict)] if not mode else []
    else:
        raise BotApiFault.bad_request("unsupported parse_mode")
    return _strip(plain, found)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML dialect to (plain text, entities); raises 400 like the real parser."""
    out: list[str] = []
    position = 0  # UTF-16 offset in the plain text produced so far
    stack: list[tuple[str, dict[str, Any] | None]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            match = _CHAR_REF.match(text, i)
            decoded = _decode_ref(match.group(1)) if match else "&"
            i = match.end() if match else i + 1
            out.append(decoded)
            position += utf16_len(decoded)
            continue
        if char != "<":
            out.append(char)
            position += utf16_len(char)
            i += 1
            continue
        byte_offset = len(text[:i].encode("utf-8"))
        if text.startswith("</", i):
            close = text.find(">", i)
            if close < 0:
                raise _parse_error(f"Unclosed end tag at byte offset {byte_offset}")
            name = text[i + 2 : close].strip().lower()
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {byte_offset}")
            open_name, entity = stack.pop()
            if name != open_name:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            if entity is not None and position > entity["offset"]:
                entity["length"] = position - entity["offset"]
                entities.append(entity)
            i = close + 1
            continue
        # Like Telegram's parser: the tag name runs to the first space or ">", so a bare "<"
        # followed by a space is an unsupported tag named "".
        name_end = i + 1
        while name_end < len(text) and not text[name_end].isspace() and text[name_end] != ">":
            name_end += 1
        if name_end >= len(text):
            raise _parse_error(f"Unclosed start tag at byte offset {byte_offset}")
        name = text[i + 1 : name_end].lower()
        if name not in _ENTITY_TAGS:
            raise _parse_error(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
        close = text.find(">", name_end)
        if close < 0:
            raise _parse_error(f"Unclosed start tag at byte offset {byte_offset}")
        attributes = _attributes(text[name_end:close])
        stack.append((name, _open_entity(name, attributes, position, stack, byte_offset)))
        i = close + 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def user_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds to what a person types: a leading command and @mentions."""
    entities: list[dict[str, Any]] = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": len(command.group(0))})
    for mention in _MENTION.finditer(text):
        offset = utf16_len(text[: mention.start()])
        entities.append({"type": "mention", "offset": offset, "length": len(mention.group(0))})
    return entities


def command_target(text: str) -> tuple[str, str | None] | None:
    """``("/cmd", "BotName" or None)`` when the text starts with a command, else None."""
    command = _COMMAND.match(text)
    if not command:
        return None
    name, _, target = command.group(0).partition("@")
    return name, target or None


def _open_entity(
    name: str,
    attributes: dict[str, str],
    position: int,
    stack: list[tuple[str, dict[str, Any] | None]],
    byte_offset: int,
) -> dict[str, Any] | None:
    kind = _ENTITY_TAGS[name]
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}')
    entity: dict[str, Any] = {"type": kind, "offset": position, "length": 0}
    if name == "a":
        href = attributes.get("href")
        if not href:
            return None
        entity["url"] = href
    elif name == "blockquote" and "expandable" in attributes:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attributes.get("emoji-id", "")
    elif name == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attributes.get("class", "")
        pre_entity = stack[-1][1]
        if pre_entity is not None and language.startswith("language-"):
            pre_entity["language"] = language.removeprefix("language-")
        return None
    return entity


def _attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        if match.group(1):
            value = match.group(2) or match.group(3) or match.group(4) or ""
            attributes[match.group(1).lower()] = _CHAR_REF.sub(
                lambda m: _decode_ref(m.group(1)), value
            )
    return attributes


def _decode_ref(ref: str) -> str:
    if ref in _NAMED_REFS:
        return _NAMED_REFS[ref]
    code = int(ref[2:], 16) if ref.startswith("#x") else int(ref[1:])
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return "\ufffd"


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(limit, entity["offset"] - lead + entity["length"])
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _parse_error(detail: str) -> BotApiFault:
    return BotApiFault.bad_request(f"can't parse entities: {detail}")
