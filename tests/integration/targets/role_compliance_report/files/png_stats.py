#!/usr/bin/env python
# Private to this test: size, distinct colours and share of non-background pixels of a PNG
# (8-bit RGB or RGBA, as Chromium writes screenshots), printed as JSON. No imaging library needed.
from __future__ import annotations

import json
import struct
import sys
import zlib


def paeth(left, up, up_left):
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    if distances[0] <= distances[1] and distances[0] <= distances[2]:
        return left
    return up if distances[1] <= distances[2] else up_left


def read_png(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG file')
    position, compressed = 8, b''
    width = height = channels = None
    while position < len(data):
        length, kind = struct.unpack('>I4s', data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b'IHDR':
            width, height, depth, colour_type = struct.unpack('>IIBB', body[:10])
            if depth != 8 or colour_type not in (2, 6):
                raise ValueError('only 8-bit RGB/RGBA PNGs are supported')
            channels = 3 if colour_type == 2 else 4
        elif kind == b'IDAT':
            compressed += body
        position += 12 + length
    raw = zlib.decompress(compressed)
    stride = width * channels
    rows, previous, offset = [], bytearray(stride), 0
    for _row in range(height):
        filter_type = raw[offset]
        line = bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for index in range(stride):
            left = line[index - channels] if index >= channels else 0
            up = previous[index]
            up_left = previous[index - channels] if index >= channels else 0
            if filter_type == 1:
                line[index] = (line[index] + left) & 0xFF
            elif filter_type == 2:
                line[index] = (line[index] + up) & 0xFF
            elif filter_type == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                line[index] = (line[index] + paeth(left, up, up_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    path = sys.argv[1]
    width, height, channels, rows = read_png(path)
    colours = {}
    for line in rows:
        for index in range(0, len(line), channels):
            pixel = line[index:index + 3]
            colours[pixel] = colours.get(pixel, 0) + 1
    background = max(colours, key=colours.get)
    total = width * height
    print(json.dumps({
        'width': width,
        'height': height,
        'distinct_colours': len(colours),
        'non_background_share': round(1 - colours[background] / total, 4),
        'has_red': any(pixel[0] > 150 and pixel[1] < 80 and pixel[2] < 80 for pixel in colours),
        'has_green': any(pixel[1] > 100 and pixel[0] < 60 and pixel[2] < 90 for pixel in colours),
    }))


if __name__ == '__main__':
    main()
