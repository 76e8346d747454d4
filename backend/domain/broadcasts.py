"""Rules for staff broadcasts (notices to everyone monitored in some regions)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from backend.domain.errors import Invalid
from backend.domain.regions import Region

# Telegram allows 4096 characters; leave room for the "notice from your health authority" line.
MAX_TEXT = 3500


def validate_texts(
    texts: Mapping[str, str], regions: Collection[Region], languages: Collection[str]
) -> dict[str, str]:
    """Texts per language, stripped; every region's default language must be among them,
    because that is what a person gets whose own language has no text."""
    cleaned = {language: text.strip() for language, text in texts.items()}
    if not cleaned:
        raise Invalid("texts", 'texts needs at least one language, e.g. {"de": "..."}.')
    for language, text in cleaned.items():
        if language not in languages:
            raise Invalid(
                f"texts.{language}",
                f"{language!r} is not a language the bot speaks ({', '.join(sorted(languages))}).",
            )
        if not text:
            raise Invalid(f"texts.{language}", "the text is empty.")
        if len(text) > MAX_TEXT:
            raise Invalid(f"texts.{language}", f"the text is longer than {MAX_TEXT} characters.")
    for region in regions:
        if region.default_language not in cleaned:
            raise Invalid(
                "texts",
                f"a text in {region.default_language!r} is needed: it is the default language "
                f"of region {region.id!r}.",
            )
    return cleaned
