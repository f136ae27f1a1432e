#!/usr/bin/env bash
# shenfen's wallet collects from an independent issuer: an OpenID4VCI 1.0
# issuer and authorization server made with the OpenWallet Foundation's
# @openid4vc/openid4vci and @openid4vc/oauth2 (issuer side), SD-JWT VCs
# issued by @sd-jwt/sd-jwt-vc under openssl-made certificates; the wallet's
# own module web/static/wallet/collect.js collects, and refuses the
# issuer's misdeeds (interop/walletvci/run.mjs).
source "$(dirname "$0")/../lib.sh"
need_npm
node interop/walletvci/run.mjs
