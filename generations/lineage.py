"""Reads of a lineage (contract §8) for the pages: where a generation sits among the versions
made from one screenshot, and the history grouped under each lineage's root."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Q, QuerySet

from generations.access import Requester, visible_to
from generations.models import Generation


@dataclass
class Version:
    """One generation of a lineage, as the pages list it."""

    id: str
    short_id: str
    status: str
    kind: str
    parent_id: str | None
    parent_index: int | None
    instructions: str
    created_at: object
    children: list["Version"] = field(default_factory=list)

    @property
    def variant_number(self) -> int | None:
        """The edited variant as people count (from 1), for an edit."""
        return None if self.parent_index is None else self.parent_index + 1

    @classmethod
    def of(cls, generation: Generation) -> "Version":
        return cls(
            id=str(generation.id),
            short_id=str(generation.id)[:8],
            status=generation.status,
            kind=generation.kind,
            parent_id=str(generation.parent_id) if generation.parent_id else None,
            parent_index=generation.parent_index,
            instructions=generation.instructions,
            created_at=generation.created_at,
        )


def roots(generations: QuerySet[Generation]) -> QuerySet[Generation]:
    """Only the first generation of each lineage (a row stored before lineages counts as one)."""
    return generations.filter(Q(root_id=F("id")) | Q(root__isnull=True))


def members(root_id, requester: Requester | None = None) -> QuerySet[Generation]:
    """Every generation of the lineage that starts at `root_id` that `requester` may see,
    oldest first, without variants (the pages only name them)."""
    generations = Generation.objects.filter(Q(id=root_id) | Q(root_id=root_id))
    if requester is not None:
        generations = visible_to(generations, requester)
    return generations.order_by("created_at").only(
        "id",
        "status",
        "kind",
        "parent_id",
        "parent_index",
        "instructions",
        "created_at",
        "root_id",
        "owner_id",
    )


def later_versions(root_ids: list, requester: Requester) -> dict[str, list[Version]]:
    """For each root of a history page, its later versions oldest first (one query)."""
    found = visible_to(Generation.objects.filter(root_id__in=root_ids), requester).exclude(
        id__in=root_ids
    )
    grouped: dict[str, list[Version]] = defaultdict(list)
    for generation in found.order_by("created_at"):
        grouped[str(generation.root_id)].append(Version.of(generation))
    return grouped


def page_data(generation: Generation, requester: Requester) -> dict:
    """Where `generation` sits: the chain from its root to it, and the versions made from it."""
    versions = {str(g.id): Version.of(g) for g in members(generation.lineage_root_id, requester)}
    for version in versions.values():
        if version.parent_id in versions:
            versions[version.parent_id].children.append(version)
    current = versions.get(str(generation.id)) or Version.of(generation)
    chain = [current]
    while chain[0].parent_id in versions:
        chain.insert(0, versions[chain[0].parent_id])
    max_height = settings.CLONEGEN_URL_MAX_PAGE_HEIGHT
    return {
        "chain": chain,
        "current": current,
        "children": current.children,
        "size": len(versions),
        "source_url": generation.source_url,
        # A capture stops at the height limit: a page that reached it was (most likely) cut.
        "capture_cut": bool(generation.source_url) and generation.screenshot_height >= max_height,
        "max_page_height": max_height,
    }
