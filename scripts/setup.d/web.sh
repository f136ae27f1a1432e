# web: copy the QR encoder and decoder the pages load from the pinned npm
# packages into web/static/web/vendor (ignored by git: third-party code is
# installed, never committed), where `go build` embeds them in the binary.
web_vendor() {
  local dst="$ROOT/web/static/web/vendor" jsqr="$ROOT/node_modules/jsqr/dist/jsQR.js" qr="$ROOT/node_modules/qrcode-generator/dist/qrcode.mjs"
  mkdir -p "$dst"
  [ -f "$jsqr" ] && [ -f "$qr" ] || { echo "web: npm packages jsqr and qrcode-generator are missing" >&2; return 1; }
  { printf '/*! jsQR 1.4.0 (https://github.com/cozmo/jsQR), Apache License 2.0, Copyright 2017 Cosmo Wolfe.\n    Copied unchanged from the npm package jsqr at setup by scripts/setup.d/web.sh. */\n'; cat "$jsqr"; } > "$dst/jsQR.js.new"
  { printf '// qrcode-generator 2.0.4 (npm), MIT licence, Copyright (c) 2009 Kazuhiko Arase.\n// Copied unchanged from the npm package at setup by scripts/setup.d/web.sh.\n'; cat "$qr"; } > "$dst/qrcode.mjs.new"
  # zxing-cpp's reader as WebAssembly (npm zxing-wasm): the desk's scanner
  # (web/static/web/qr.js loads it on the first scan). The ES module keeps
  # its relative layout (reader/index.js imports ../share.js).
  local zx="$ROOT/node_modules/zxing-wasm/dist"
  [ -f "$zx/es/reader/index.js" ] && [ -f "$zx/reader/zxing_reader.wasm" ] || { echo "web: npm package zxing-wasm is missing" >&2; return 1; }
  mkdir -p "$dst/zxing/es/reader" "$dst/zxing/reader"
  local zxh='/*! zxing-wasm 3.1.8 (npm; https://github.com/Sec-ant/zxing-wasm), MIT licence, Copyright (c) 2023 Ze-Zheng Wu;
    built from zxing-cpp (https://github.com/zxing-cpp/zxing-cpp), Apache License 2.0.
    Copied unchanged from the npm package at setup by scripts/setup.d/web.sh. */\n'
  { printf "$zxh"; cat "$zx/es/reader/index.js"; } > "$dst/zxing/es/reader/index.js.new"
  { printf "$zxh"; cat "$zx/es/share.js"; } > "$dst/zxing/es/share.js.new"
  cp "$zx/reader/zxing_reader.wasm" "$dst/zxing/reader/zxing_reader.wasm.new"
  local f
  for f in jsQR.js qrcode.mjs zxing/es/reader/index.js zxing/es/share.js zxing/reader/zxing_reader.wasm; do
    if cmp -s "$dst/$f.new" "$dst/$f"; then rm "$dst/$f.new"; else mv "$dst/$f.new" "$dst/$f"; fi
  done
}
web_vendor
