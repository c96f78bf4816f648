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
export async function inspectImage(file, maxMb) {
  if (!file) return { ok: false, message: "Choose a screenshot first." };
  if (file.size === 0) return { ok: false, message: "This file is empty, so nothing was sent." };
  if (file.size > maxMb * 1024 * 1024) {
    return {
      ok: false,
      message: `This image is ${formatBytes(file.size)}; the limit is ${maxMb} MB. Nothing was sent.`,
    };
  }
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const type = sniffType(head);
  if (!type) return { ok: false, message: NOT_AN_IMAGE };
  const url = URL.createObjectURL(file);
  let size;
  try {
    size = await decode(url);
  } catch {
    URL.revokeObjectURL(url);
    return { ok: false, message: NOT_AN_IMAGE };
  }
  // Send the bytes under the type they really have, whatever the file name claimed.
  const dataUrl = await readAsDataUrl(new Blob([file], { type }));
  return { ok: true, type, bytes: file.size, url, dataUrl, ...size };
}

export function describeImage({ type, width, height, bytes }) {
  return `${width} × ${height} px · ${formatBytes(bytes)} · ${ACCEPTED_TYPES[type] ?? type}`;
}
