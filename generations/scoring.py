"""Score a render against the screenshot it should look like: one 0-1 `visual` and its parts.

Offline and pure (numpy, scikit-image, Pillow). Pixels are compared only after alignment, because
a person judges a page pushed down by a banner, or laid out a little narrower, as close, and the
same content in another layout as not — and plain pixel comparison ranks those the other way.
docs/scoring.md explains each step and weight, and the labelled set that checks the ranking.
Over 350 lines: the alignment and the four components are steps of one computation, each a
short function, and read best in order.

1. Common scale: both images are resized to one working width; the render is cropped to the
   screenshot's aspect (plus a margin for shifts), never the reverse, since a screenshot may show
   only the top of a page.
2. Vertical alignment: rows (in bands) of the screenshot are aligned to rows of the render by a
   monotone sequence alignment with gap costs, which absorbs banners and changed spacing but
   cannot reorder content. A screenshot band with no partner counts as missing.
3. Local horizontal tolerance: each tile of the screenshot is compared with the aligned render at
   the best of a few small horizontal offsets, which absorbs a narrower container.
4. Components on what matched: `structure` (per-tile SSIM, tiles weighted by content),
   `color` (CIEDE2000), `layout` (where the edges are), `text` (the render's DOM text boxes
   against text regions detected in the screenshot), and `coverage` (the share aligned).
"""

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial.distance import cdist
from skimage import color as skcolor
from skimage.metrics import structural_similarity

RENDER_WIDTH = 1280  # CSS px of a render; its text boxes are in the same units
MAX_WIDTH = 512  # working width: text stays legible as texture, SSIM stays cheap
MIN_WIDTH = 160
PIXEL_BUDGET = 320_000  # working pixels per image: a tall screenshot gets a narrower width
MAX_BANDS = 320  # rows are aligned in at most this many bands
SHIFT_MARGIN = 0.2  # the render is cropped to the screenshot's height plus this share
COLUMNS = 32  # cells per band row in the alignment features
TILES_ACROSS = 16  # tiles per row for SSIM and colour (80 CSS px on a 1280 px page)
MAX_SHIFT = 0.05  # horizontal tolerance, as a share of the width (64 CSS px at 1280)
SHIFT_STEPS = 5  # offsets tried each side of zero
GAP_SCREENSHOT = 0.4  # cost of a screenshot band with no partner (mean abs difference units)
GAP_RENDER = 0.1  # cost of a render band skipped inside the match (an inserted banner)
DELTA_E_SCALE = 12.0  # CIEDE2000 at which a tile's colour score falls to 1/e
WEIGHTS = {"structure": 0.35, "color": 0.2, "layout": 0.25, "text": 0.2}

Box = Sequence[float]  # x, y, width, height in CSS px of the render


class UnreadableImage(ValueError):
    """An input that does not decode as an image."""


@dataclass
class _Pair:
    """The screenshot and the aligned render at the working scale, plus what matched."""

    shot: np.ndarray  # H x W x 3 floats 0-1
    aligned: np.ndarray  # the render's rows placed where the screenshot's partners are
    matched: np.ndarray  # H bools: this screenshot row has a partner
    render_rows: np.ndarray  # H ints: the render row each screenshot row came from (-1: none)
    scale: float  # working px per render CSS px
    render_offset: int  # working rows of leading render skipped (a banner), for reporting


def load_image(data: bytes | Image.Image) -> Image.Image:
    """Return `data` (image bytes or an image) as RGB; UnreadableImage if it is not one."""
    if isinstance(data, Image.Image):
        return data.convert("RGB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        # Pillow's messages name its internal buffer; the type says enough.
        raise UnreadableImage(f"not a readable image ({type(error).__name__})") from error


def score(
    screenshot: bytes | Image.Image,
    render: bytes | Image.Image,
    text_boxes: Sequence[Box] | None = None,
) -> dict:
    """Return {"visual": 0-1, and each component} for `render` against `screenshot`.

    `render` is a 1280 px wide page render (rendering.Render.png) and `text_boxes` its DOM text
    boxes (rendering.Render.text_boxes); without boxes the text component is left out and the
    others carry its weight. Raises UnreadableImage for an input that is not an image.
    """
    shot, page = load_image(screenshot), load_image(render)
    pair = _align(shot, page)
    parts = {
        "structure": _structure(pair),
        "color": _color(pair),
        "layout": _layout(pair),
        "text": _text(pair, text_boxes) if text_boxes is not None else None,
    }
    used = {name: value for name, value in parts.items() if value is not None}
    weight = sum(WEIGHTS[name] for name in used)
    visual = sum(WEIGHTS[name] * value for name, value in used.items()) / weight
    result = {"visual": round(float(visual), 4)}
    result.update({name: None if v is None else round(float(v), 4) for name, v in parts.items()})
    result["coverage"] = round(float(pair.matched.mean()), 4)
    result["offset_px"] = round(pair.render_offset / pair.scale)
    return result


# -- 1 and 2: scale, crop and align ----------------------------------------------------------


def _working_width(shot: Image.Image) -> int:
    aspect = shot.height / shot.width
    width = min(MAX_WIDTH, shot.width, int(math.sqrt(PIXEL_BUDGET / aspect)))
    return max(MIN_WIDTH, width)


def _resized(image: Image.Image, width: int) -> np.ndarray:
    height = max(1, round(image.height * width / image.width))
    small = image.resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _align(shot_image: Image.Image, render_image: Image.Image) -> _Pair:
    width = _working_width(shot_image)
    shot = _resized(shot_image, width)
    render = _resized(render_image, width)
    height = shot.shape[0]
    band = max(1, math.ceil(height / MAX_BANDS))
    window = height + max(band, round(height * SHIFT_MARGIN))
    render = _fit_height(render, window)
    shot_bands, render_bands = _band_features(shot, band), _band_features(render, band)
    pairs = _align_bands(shot_bands, render_bands)
    render_rows = np.full(height, -1, dtype=np.int64)
    for shot_band, render_band in enumerate(pairs):
        if render_band >= 0:
            rows = np.arange(shot_band * band, min(height, (shot_band + 1) * band))
            from_rows = render_band * band + (rows - shot_band * band)
            render_rows[rows] = np.minimum(from_rows, window - 1)
    matched = render_rows >= 0
    aligned = np.empty_like(shot)
    aligned[matched] = render[render_rows[matched]]
    aligned[~matched] = _background(render)
    first = next((r - i for i, r in enumerate(render_rows) if r >= 0), 0)
    return _Pair(shot, aligned, matched, render_rows, width / render_image.width, max(0, first))


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Crop to `height` rows, or extend with the page's bottom colour (a browser would show it)."""
    if image.shape[0] >= height:
        return image[:height]
    filler = np.broadcast_to(_background(image[-8:]), (height - image.shape[0], *image.shape[1:]))
    return np.concatenate([image, filler])


def _background(image: np.ndarray) -> np.ndarray:
    return np.median(image.reshape(-1, 3), axis=0)


def _band_features(image: np.ndarray, band: int) -> np.ndarray:
    """Per band: mean colour and gray texture in COLUMNS cells, so text rows differ from blanks."""
    rows = image.shape[0] // band * band
    if rows == 0:
        return np.zeros((0, COLUMNS * 4), dtype=np.float32)
    cells = np.array_split(np.arange(image.shape[1]), COLUMNS)
    gray = image[:rows].mean(axis=2)
    means, texture = [], []
    for cell in cells:
        block = image[:rows, cell[0] : cell[-1] + 1].reshape(rows // band, band, len(cell), 3)
        means.append(block.mean(axis=(1, 2)))
        gray_block = gray[:, cell[0] : cell[-1] + 1].reshape(rows // band, band * len(cell))
        texture.append(gray_block.std(axis=1, keepdims=True) * 2)
    return np.concatenate(means + texture, axis=1)


def _align_bands(shot: np.ndarray, render: np.ndarray) -> list[int]:
    """Return, for each screenshot band, its render band (-1: none): a monotone alignment.

    Needleman-Wunsch with linear gaps, vectorised by rows: a left move (skipping render bands) is
    a running minimum. Leading render bands cost GAP_RENDER each (a banner must pay a little);
    trailing ones are free, as the render was cropped with a margin.
    """
    n, m = len(shot), len(render)
    if n == 0 or m == 0:
        return [-1] * n
    # cdist, not broadcasting: no n x m x features temporary (60 MB for a tall page).
    cost = cdist(shot, render, "cityblock") / shot.shape[1]
    steps = np.arange(m + 1) * GAP_RENDER
    table = np.empty((n + 1, m + 1))
    from_diagonal = np.zeros((n + 1, m + 1), dtype=bool)
    from_left = np.zeros((n + 1, m + 1), dtype=bool)
    table[0] = steps
    for i in range(1, n + 1):
        up = table[i - 1] + GAP_SCREENSHOT
        diagonal = np.full(m + 1, np.inf)
        diagonal[1:] = table[i - 1, :-1] + cost[i - 1]
        best = np.minimum(up, diagonal)
        from_diagonal[i] = diagonal <= up
        table[i] = steps + np.minimum.accumulate(best - steps)
        from_left[i] = table[i] < best - 1e-12
    pairs = [-1] * n
    i, j = n, int(np.argmin(table[n]))
    while i > 0:
        if from_left[i, j]:
            j -= 1
        elif from_diagonal[i, j]:
            pairs[i - 1] = j - 1
            i, j = i - 1, j - 1
        else:
            i -= 1
    return pairs


# -- 3 and 4: compare what matched -----------------------------------------------------------


def _shifts(width: int) -> list[int]:
    limit = max(1, round(width * MAX_SHIFT))
    step = max(1, limit // SHIFT_STEPS)
    return sorted({0, *range(-limit, limit + 1, step), -limit, limit})


def _shifted(image: np.ndarray, dx: int) -> np.ndarray:
    """Move `image` dx columns right, repeating the edge columns into the gap."""
    if dx == 0:
        return image
    pad = [(0, 0)] * image.ndim
    pad[1] = (max(dx, 0), max(-dx, 0))
    padded = np.pad(image, pad, mode="edge")
    return padded[:, max(-dx, 0) : padded.shape[1] - max(dx, 0)]


def _tile_means(values: np.ndarray, tile: int) -> np.ndarray:
    """Mean of `values` (H x W) over tile x tile blocks (edge tiles partial)."""
    rows = np.arange(0, values.shape[0], tile)
    cols = np.arange(0, values.shape[1], tile)
    sums = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    counts = np.add.reduceat(np.add.reduceat(np.ones_like(values), rows, axis=0), cols, axis=1)
    return sums / counts


def _structure(pair: _Pair) -> float:
    """SSIM where there is something to see, per tile at the best small horizontal offset.

    Each pixel of the SSIM map is weighted by the local contrast of either image, so the blank
    margins of a sparse tile (which match anything blank) do not hide a missing word; tiles are
    weighted by their total contrast, and a screenshot row with no partner scores 0.
    """
    shot, aligned = pair.shot.mean(axis=2), pair.aligned.mean(axis=2)
    width = shot.shape[1]
    tile = max(8, width // TILES_ACROSS)
    shot_contrast = _local_contrast(shot)
    aligned_contrast = _local_contrast(aligned)
    best = best_weight = None
    for dx in _shifts(width):
        _, ssim_map = structural_similarity(
            shot, _shifted(aligned, dx), data_range=1.0, full=True, win_size=7
        )
        weight = shot_contrast + _shifted(aligned_contrast, dx) + 1e-4
        tile_weight = _tile_means(weight, tile)
        tiles = _tile_means(np.clip(ssim_map, 0, 1) * weight, tile) / tile_weight
        if best is None:
            best, best_weight = tiles, tile_weight
        else:
            better = tiles > best
            best = np.where(better, tiles, best)
            best_weight = np.where(better, tile_weight, best_weight)
    matched = _tile_means(np.broadcast_to(pair.matched[:, None], shot.shape).astype(float), tile)
    return float(np.sum(best * matched * best_weight) / np.sum(best_weight))


def _local_contrast(gray: np.ndarray) -> np.ndarray:
    mean = ndimage.uniform_filter(gray, 7)
    return np.sqrt(np.maximum(ndimage.uniform_filter(gray * gray, 7) - mean * mean, 0))


def _color(pair: _Pair) -> float:
    """CIEDE2000 per tile, at the best small offset, as exp(-dE / scale); every tile counts."""
    width = pair.shot.shape[1]
    tile = max(8, width // TILES_ACROSS)
    small = TILES_ACROSS * 4
    factor = width / small
    shot = _downscaled(pair.shot, small)
    aligned = _downscaled(pair.aligned, small)
    shot_lab = skcolor.rgb2lab(shot)
    best = None
    for dx in _shifts(small):
        delta = skcolor.deltaE_ciede2000(shot_lab, skcolor.rgb2lab(_shifted(aligned, dx)))
        tiles = _tile_means(delta, max(1, round(tile / factor)))
        best = tiles if best is None else np.minimum(best, tiles)
    rows = np.broadcast_to(pair.matched[:, None, None], pair.shot.shape).astype(np.float32)
    matched = _tile_means(_downscaled(rows, small)[..., 0], max(1, round(tile / factor)))
    return float(np.mean(np.exp(-best / DELTA_E_SCALE) * matched))


def _downscaled(image: np.ndarray, width: int) -> np.ndarray:
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(picture.resize((width, height), Image.Resampling.BOX), np.float32) / 255


def _edges(gray: np.ndarray) -> np.ndarray:
    return np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1)) > 0.25


def _layout(pair: _Pair) -> float:
    """Weighted Jaccard of where the edges are, on a coarse grid blurred by about one cell."""
    width = pair.shot.shape[1]
    cell = max(4, width // (TILES_ACROSS * 2))
    grids = []
    for image, matched in ((pair.shot, None), (pair.aligned, pair.matched)):
        edges = _edges(image.mean(axis=2)).astype(np.float64)
        if matched is not None:
            edges[~matched] = 0
        grids.append(ndimage.gaussian_filter(_tile_means(edges, cell), 1.0))
    shot_grid, render_grid = grids
    union = np.maximum(shot_grid, render_grid).sum()
    if union == 0:
        return 1.0
    return float(np.minimum(shot_grid, render_grid).sum() / union)


def _text_regions(image: np.ndarray) -> np.ndarray:
    """Where text probably is: short, dense runs of strong contrast (a mask)."""
    gray = image.mean(axis=2)
    contrast = ndimage.grey_dilation(gray, 3) - ndimage.grey_erosion(gray, 3) > 0.2
    words = ndimage.binary_closing(contrast, np.ones((1, 5), dtype=bool))
    labels, count = ndimage.label(words)
    mask = np.zeros_like(words)
    if count == 0:
        return mask
    scale = image.shape[1] / RENDER_WIDTH
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = found
        height, width = rows.stop - rows.start, cols.stop - cols.start
        region = labels[found] == index
        if 6 * scale <= height <= 64 * scale and width >= 4 * scale and region.mean() > 0.25:
            mask[found] |= region
    return mask


def _dom_text(pair: _Pair, boxes: Sequence[Box]) -> np.ndarray:
    """The render's text boxes drawn at the working scale, moved as the alignment moved rows."""
    height = int(pair.render_rows.max()) + 1 if pair.matched.any() else 0
    canvas = np.zeros((max(height, 1), pair.shot.shape[1]), dtype=bool)
    for x, y, w, h in boxes:
        top, left = round(y * pair.scale), round(x * pair.scale)
        bottom, right = round((y + h) * pair.scale), round((x + w) * pair.scale)
        canvas[max(top, 0) : max(bottom, top + 1), max(left, 0) : max(right, left + 1)] = True
    mask = np.zeros(pair.matched.shape[0:1] + canvas.shape[1:], dtype=bool)
    mask[pair.matched] = canvas[pair.render_rows[pair.matched]]
    return mask


def _overlap_f1(found: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> float:
    if not found.any() and not expected.any():
        return 1.0
    if not found.any() or not expected.any():
        return 0.0
    precision = (found & ndimage.binary_dilation(expected, tolerance)).sum() / found.sum()
    recall = (expected & ndimage.binary_dilation(found, tolerance)).sum() / expected.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def _text(pair: _Pair, boxes: Sequence[Box]) -> float:
    """F1 of the DOM's text boxes against the screenshot's text regions, over the same F1
    against the render's own detected regions (so the detector's own misses cancel out)."""
    dom = _dom_text(pair, boxes)
    reach = max(1, round(pair.shot.shape[1] * MAX_SHIFT))
    tolerance = np.ones((3, 2 * reach + 1), dtype=bool)
    against_shot = _overlap_f1(dom, _text_regions(pair.shot), tolerance)
    against_self = _overlap_f1(dom, _text_regions(pair.aligned) & pair.matched[:, None], tolerance)
    if against_self == 0:
        return against_shot
    return min(1.0, against_shot / against_self)
