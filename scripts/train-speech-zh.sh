#!/usr/bin/env bash
# train-speech-zh.sh trains the Mandarin digit model of biometric/speech
# (biometric/speech/zh-digits.gob, embedded in the binary) on speech it
# generates with espeak-ng (TestTrainMandarinModel, train_test.go): whole-word
# HMMs of the digits, silence and other speech, from espeak-ng's pinyin voice
# with variants that the benchmark (scripts/bench.d/speech.sh) neither
# calibrates nor tests on, at random rates, pitches and noise levels. Seeded:
# the same packages give the same model. About 2 minutes of CPU.
source "$(dirname "$0")/lib.sh"
cd "$ROOT/biometric/speech"
SHENFEN_SPEECH_TRAIN=1 go test . -count=1 -run '^TestTrainMandarinModel$' -v -timeout 30m | grep -vE '^(=== RUN|PASS|ok )'
