// Checking a chosen screenshot in the browser before anything is sent: the file's own bytes
// decide its format (a renamed text file is not a PNG), then the browser must decode it.

export const ACCEPTED_TYPES = {
  "image/png": "PNG",
  "image/jpeg": "JPEG",
  "image/webp": "WebP",
};

const NOT_AN_IMAGE = "This file is not a PNG, JPEG or WebP image, so nothing was sent. "
  + "Choose a screenshot saved in one of those formats.";

function startsWith(bytes, signature, at = 0) {
  return signature.every((byte, i) => bytes[at + i] === byte);
}

/** The MIME type the file's first bytes announce, or null. */
export function sniffType(bytes) {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return "image/webp";
  }
  return null;
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The pixel size a PNG, JPEG or WebP header declares, or null: read before decoding, so an
 * image over the pixel limit is refused without the browser allocating it whole. */
export function declaredSize(bytes, type) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (at, length) => at + length <= bytes.length;
  if (type === "image/png" && fits(16, 8)) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (type === "image/webp" && fits(12, 18)) {
    const chunk = String.fromCharCode(...bytes.slice(12, 16));
    const u24 = (at) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
    if (chunk === "VP8X") return { width: u24(24) + 1, height: u24(27) + 1 };
    if (chunk === "VP8L") {
      const bits = view.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === "VP8 ") {
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    }
    return null;
  }
  if (type === "image/jpeg") {
    // Walk the markers to the first start-of-frame (SOF0..SOF15 but DHT, JPG and DAC).
    let at = 2;
    while (fits(at, 9) && bytes[at] === 0xff) {
      const marker = bytes[at + 1];
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      }
      at += 2 + view.getUint16(at + 2);
    }
  }
  return null;
}

/** A refusal of the image's pixel size, worded as the server words it, or null. */
export function sizeProblem({ width, height }, { min_image_side: min, max_image_pixels: max } = {}) {
  if (min && (width < min || height < min)) {
    return `The screenshot is ${width}x${height} px; it must be at least ${min}x${min} px. `
      + "Nothing was sent.";
  }
  if (max && width * height > max) {
    const megapixels = (width * height / 1e6).toFixed(1);
    return `The screenshot is ${width}x${height} px (${megapixels} megapixels); `
      + `the limit is ${Math.floor(max / 1e6)} megapixels. Nothing was sent.`;
  }
  return null;
}

// The header and, for a JPEG, the metadata before its frame header (EXIF can be long).
const HEADER_BYTES = 256 * 1024;

function decode(url) {
  const img = new Image();
  img.src = url;
  return img.decode().then(() => ({ width: img.naturalWidth, height: img.naturalHeight }));
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(blob);
  });
}

/**
 * Check `file` and describe it: {ok: true, type, width, height, bytes, url, dataUrl}
 * or {ok: false, message}. `url` is an object URL the caller revokes.
 */
export async function inspectImage(file, maxMb, limits = {}) {
  if (!file) return { ok: false, message: "Choose a screenshot first." };
  if (file.size === 0) return { ok: false, message: "This file is empty, so nothing was sent." };
  if (file.size > maxMb * 1024 * 1024) {
    return {
      ok: false,
      message: `This image is ${formatBytes(file.size)}; the limit is ${maxMb} MB. Nothing was sent.`,
    };
  }
  const head = new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer());
  const type = sniffType(head);
  if (!type) return { ok: false, message: NOT_AN_IMAGE };
  const declared = declaredSize(head, type);
  const declaredProblem = declared && sizeProblem(declared, limits);
  if (declaredProblem) return { ok: false, message: declaredProblem };
  const url = URL.createObjectURL(file);
  let size;
  try {
    size = await decode(url);
  } catch {
    URL.revokeObjectURL(url);
    return { ok: false, message: NOT_AN_IMAGE };
  }
  const problem = sizeProblem(size, limits);
  if (problem) {
    URL.revokeObjectURL(url);
    return { ok: false, message: problem };
  }
  // Send the bytes under the type they really have, whatever the file name claimed.
  const dataUrl = await readAsDataUrl(new Blob([file], { type }));
  return { ok: true, type, bytes: file.size, url, dataUrl, ...size };
}

export function describeImage({ type, width, height, bytes }) {
  return `${width} × ${height} px · ${formatBytes(bytes)} · ${ACCEPTED_TYPES[type] ?? type}`;
}
