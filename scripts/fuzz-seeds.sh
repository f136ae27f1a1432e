#!/usr/bin/env bash
# fuzz-seeds.sh (re)makes the seed corpora of the fuzz targets that read
# media and ID numbers from real inputs, so that fuzzing starts from what
# real encoders and real people produce rather than from hand-made bytes:
#   biometric/face FuzzDecodeImage  a screenshot of the hotel sign-in page
#       (text and a QR code, no face) encoded by ffmpeg as baseline JPEG
#       (4:2:0, 4:4:4, grey), PNG (RGB, RGBA, grey, palette, 16-bit) and WebP
#       (lossy, lossless), cropped and scaled to the fuzz target's limits;
#   biometric/speech FuzzDecode     four digits spoken by espeak-ng and flite,
#       converted by sox to the PCM and float formats the decoder takes;
#   registry FuzzParseIDNumber      ID numbers of the demo registry generator.
# The files land in testdata/fuzz/FuzzName/seed-* and are committed.
source "$(dirname "$0")/lib.sh"
need_debs ffmpeg espeak-ng flite sox
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seed() { go run ./scripts/fuzzseed "$@"; }

src=docs/screenshots/hotel-login.png
img=$work/img; mkdir -p "$img"
ff() { ffmpeg -loglevel error -y -i "$src" "$@"; }
ff -vf "crop=256:256:16:430" -pix_fmt yuvj420p "$img/qr-420.jpg"
ff -vf "crop=256:256:16:430" -pix_fmt yuvj444p "$img/qr-444.jpg"
ff -vf "scale=118:256" -pix_fmt gray "$img/page-grey-jpeg.jpg"
ff -vf "crop=200:160:0:0" -pix_fmt rgb24 "$img/title-rgb.png"
ff -vf "crop=96:96:16:430" -pix_fmt rgba "$img/qr-rgba.png"
ff -vf "scale=118:256" -pix_fmt gray "$img/page-grey.png"
ff -vf "crop=128:128:40:300,split[a][b];[a]palettegen=max_colors=16[p];[b][p]paletteuse" "$img/text-pal8.png"
ff -vf "crop=64:64:16:430" -pix_fmt rgb48be "$img/qr-16bit.png"
ff -vf "crop=256:256:16:430" -c:v libwebp -lossless 0 -quality 60 "$img/qr-lossy.webp"
ff -vf "crop=160:128:0:0" -c:v libwebp -lossless 1 "$img/title-lossless.webp"
for f in "$img"/*; do
  [ "$(stat -c %s "$f")" -le 65536 ] || { echo "$f is over the fuzz target's 64 KiB" >&2; exit 1; }
done
seed -dir biometric/face/testdata/fuzz/FuzzDecodeImage "$img"/*

wav=$work/wav; mkdir -p "$wav"
espeak-ng -v en -w "$wav/espeak.wav" "three seven one nine"
flite -t "four two eight zero" -o "$wav/flite.wav"
sox "$wav/espeak.wav" -r 16000 -b 16 -e signed-integer "$wav/espeak-16k-s16.wav" trim 0 0.4
sox "$wav/espeak.wav" -r 8000 -b 8 -e unsigned-integer "$wav/espeak-8k-u8.wav" trim 0 0.5
sox "$wav/espeak.wav" -r 48000 -b 24 -c 2 "$wav/espeak-48k-s24-stereo.wav" trim 0.2 0.1
sox "$wav/flite.wav" -r 16000 -e floating-point -b 32 "$wav/flite-16k-float.wav" trim 0 0.25
sox "$wav/flite.wav" -r 44100 -b 32 -e signed-integer "$wav/flite-44k-s32.wav" trim 0.1 0.1
rm "$wav/espeak.wav" "$wav/flite.wav"
seed -dir biometric/speech/testdata/fuzz/FuzzDecode "$wav"/*

go run ./cmd/shenfen registry demo --faces "" --count 24 --seed 7 --out "$work/demo.csv" 2>/dev/null
tail -n +2 "$work/demo.csv" | cut -d, -f1 > "$work/ids.txt"
seed -dir registry/testdata/fuzz/FuzzParseIDNumber -type string -lines "$work/ids.txt"
log "seed corpora written"
