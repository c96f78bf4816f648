"""The chat messages a stored generation's models are sent: a clone's or an edit's prompt."""

from generations.models import Generation, GenerationKind, Variant
from generations.prompts import build_edit_messages, build_messages


def messages_for(generation: Generation, image_data_url: str) -> list[dict]:
    """Return the messages for every variant of `generation` (synchronous: an edit reads its
    parent variant's HTML from the database).

    An edit sends the parent's screenshot (which the edit stores as its own), the parent
    variant's HTML as shown and the edit's instructions; never anything older in the lineage.
    """
    if generation.kind != GenerationKind.EDIT:
        return build_messages(
            stack=generation.stack,
            image_data_url=image_data_url,
            instructions=generation.instructions,
        )
    parent_variant = Variant.objects.get(
        generation_id=generation.parent_id, index=generation.parent_index
    )
    return build_edit_messages(
        stack=generation.stack,
        image_data_url=image_data_url,
        parent_html=parent_variant.shown_html or "",
        instructions=generation.instructions,
    )
