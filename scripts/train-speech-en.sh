#!/usr/bin/env bash
# train-speech-en.sh trains the English digit model of biometric/speech
# (biometric/speech/en-digits.gob, embedded in the binary) the same way as
# train-speech-zh.sh (TestTrainDigitModel with SHENFEN_SPEECH_TRAIN=en,
# train_test.go), on voices of four synthesisers that the benchmark
# (scripts/bench.d/speech.sh) neither calibrates nor tests on: espeak-ng US
# English variants and three other espeak-ng English voices, flite awb and
# rms, FreeTTS kevin16 and festival kal_diphone (these two are the speaker of
# flite kal and kal16, which the calibration set holds). Seeded: the same
# packages give the same model. About 10 minutes on the shared 2-core machine.
#
#   SHENFEN_SPEECH_TRAIN_ROUNDS=2   fewer rounds of clips per voice of the
#                                   other engines (a quick try; default 6)
source "$(dirname "$0")/lib.sh"
# FreeTTS (Java) is needed for training only, so it is installed here rather
# than by scripts/setup.sh (the test command does not need a Java runtime).
need_debs $(grep -v '^#' scripts/setup.d/speech.debs) freetts
cd "$ROOT/biometric/speech"
SHENFEN_SPEECH_TRAIN=en nice -n 10 go test . -count=1 -run '^TestTrainDigitModel$' -v -timeout 90m | grep -vE '^(=== RUN|PASS|ok )'
