# web: copy the QR encoder and decoder the pages load from the pinned npm
# packages into web/static/web/vendor (ignored by git: third-party code is
# installed, never committed), where `go build` embeds them in the binary.
web_vendor() {
  local dst="$ROOT/web/static/web/vendor" jsqr="$ROOT/node_modules/jsqr/dist/jsQR.js" qr="$ROOT/node_modules/qrcode-generator/dist/qrcode.mjs"
  mkdir -p "$dst"
  [ -f "$jsqr" ] && [ -f "$qr" ] || { echo "web: npm packages jsqr and qrcode-generator are missing" >&2; return 1; }
  { printf '/*! jsQR 1.4.0 (https://github.com/cozmo/jsQR), Apache License 2.0, Copyright 2017 Cosmo Wolfe.\n    Copied unchanged from the npm package jsqr at setup by scripts/setup.d/web.sh. */\n'; cat "$jsqr"; } > "$dst/jsQR.js.new"
  { printf '// qrcode-generator 2.0.4 (npm), MIT licence, Copyright (c) 2009 Kazuhiko Arase.\n// Copied unchanged from the npm package at setup by scripts/setup.d/web.sh.\n'; cat "$qr"; } > "$dst/qrcode.mjs.new"
  local f
  for f in jsQR.js qrcode.mjs; do
    if cmp -s "$dst/$f.new" "$dst/$f"; then rm "$dst/$f.new"; else mv "$dst/$f.new" "$dst/$f"; fi
  done
}
web_vendor
