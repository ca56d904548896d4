/**
 * @module bench/faults/png
 * A minimal PNG writer (8-bit RGB, no filter) on `node:zlib`, and a raster to draw into:
 * enough for the soak plot without an image library or service.
 */
import { crc32, deflateSync } from 'node:zlib'

/** An RGB raster. */
export interface Raster {
  readonly width: number
  readonly height: number
  readonly pixels: Buffer
}

/**
 * A raster filled with `rgb`.
 *
 * @example
 * ```ts
 * const r = raster(640, 360, [255, 255, 255])
 * ```
 */
export function raster(width: number, height: number, rgb: readonly number[]): Raster {
  const pixels = Buffer.alloc(width * height * 3)
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3)
  return { width, height, pixels }
}

/**
 * Set one pixel (ignored outside the raster).
 *
 * @example
 * ```ts
 * plot(r, 10, 10, [0, 0, 0])
 * ```
 */
export function plot(r: Raster, x: number, y: number, rgb: readonly number[]): void {
  const xi = Math.round(x)
  const yi = Math.round(y)
  if (xi < 0 || yi < 0 || xi >= r.width || yi >= r.height) return
  r.pixels.set(rgb, (yi * r.width + xi) * 3)
}

/**
 * A line `width` pixels thick from (x0, y0) to (x1, y1).
 *
 * @example
 * ```ts
 * line(r, 0, 0, 100, 50, [200, 0, 0], 2)
 * ```
 */
export function line(
  r: Raster,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  rgb: readonly number[],
  width = 1,
): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))))
  const half = (width - 1) / 2
  for (let s = 0; s <= steps; s++) {
    const x = x0 + ((x1 - x0) * s) / steps
    const y = y0 + ((y1 - y0) * s) / steps
    for (let dx = -half; dx <= half; dx++)
      for (let dy = -half; dy <= half; dy++) plot(r, x + dx, y + dy, rgb)
  }
}

/** 3×5 glyphs of the characters the plot labels use. */
const GLYPHS: Record<string, string> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001001001001',
  '8': '111101111101111',
  '9': '111101111001111',
  '.': '000000000000010',
  ' ': '000000000000000',
  m: '000000111111101',
  s: '000011010001110',
  M: '101111111101101',
  i: '010000010010010',
  B: '110101110101110',
  '%': '101001010100101',
  '-': '000000111000000',
  r: '000111100100100',
  h: '100100111101101',
  e: '000111111100111',
  a: '000111011101111',
  p: '000111101111100',
  n: '000110101101101',
}

/**
 * Write `text` at (x, y) in the 3×5 font, scaled by `scale`.
 *
 * @example
 * ```ts
 * text(r, 4, 4, '128 MiB', [0, 0, 0], 2)
 * ```
 */
export function text(
  r: Raster,
  x: number,
  y: number,
  s: string,
  rgb: readonly number[],
  scale = 2,
): void {
  let cx = x
  for (const ch of s) {
    const glyph = GLYPHS[ch] ?? GLYPHS[' ']!
    for (let gy = 0; gy < 5; gy++) {
      for (let gx = 0; gx < 3; gx++) {
        if (glyph[gy * 3 + gx] !== '1') continue
        for (let sx = 0; sx < scale; sx++)
          for (let sy = 0; sy < scale; sy++) plot(r, cx + gx * scale + sx, y + gy * scale + sy, rgb)
      }
    }
    cx += 4 * scale
  }
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0)
  return Buffer.concat([head, data, crc])
}

/**
 * Encode a raster as a PNG file.
 *
 * @example
 * ```ts
 * writeFileSync('plot.png', encodePng(r))
 * ```
 */
export function encodePng(r: Raster): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(r.width, 0)
  ihdr.writeUInt32BE(r.height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: RGB
  const rows = Buffer.alloc((r.width * 3 + 1) * r.height)
  for (let y = 0; y < r.height; y++) {
    // Filter byte 0 (none), then the row.
    r.pixels.copy(rows, y * (r.width * 3 + 1) + 1, y * r.width * 3, (y + 1) * r.width * 3)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}
