#!/usr/bin/env bash
# train-speech-zh.sh trains the Mandarin digit model of biometric/speech
# (biometric/speech/zh-digits.gob, embedded in the binary) on speech it
# generates (TestTrainDigitModel with SHENFEN_SPEECH_TRAIN=zh, train_test.go):
# whole-word HMMs of the digits, silence and other speech, from espeak-ng's
# pinyin voice with variants that the benchmark (scripts/bench.d/speech.sh)
# neither calibrates nor tests on, at random rates and pitches, degraded at
# random (formant shift, tempo, telephone band, level, white noise). Seeded:
# the same packages give the same model. A few minutes of CPU.
source "$(dirname "$0")/lib.sh"
cd "$ROOT/biometric/speech"
SHENFEN_SPEECH_TRAIN=zh nice -n 10 go test . -count=1 -run '^TestTrainDigitModel$' -v -timeout 60m | grep -vE '^(=== RUN|PASS|ok )'
