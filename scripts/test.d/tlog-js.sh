#!/usr/bin/env bash
# The wallet's transparency-log module (web/static/web/tlog.js, run in
# Node) against logs served by package trustapi: C2SP checkpoints verified
# with the log's Ed25519 note key, every inclusion and consistency proof of
# small trees, the wallet's own issuance found and proved as the log grows;
# a fork signed with the log's own key, another key, edited checkpoints,
# a card not in the log and another card's leaf or proof refused.
source "$(dirname "$0")/../lib.sh"
go run ./interop/tlog
