#!/usr/bin/env bash
# speech.sh measures the spoken-digit check (biometric/speech):
#
# 1. CPU of one speech decision, on one core, against the code before the
#    verification (commit $SHENFEN_SPEECH_BASE, its BenchmarkCheck) in the
#    same run: the ratio is robust to the load of a shared machine.
# 2. Acceptance on generated clips (TestBenchSpeech): a calibration set
#    (the thresholds were chosen on it: English espeak-ng voices and flite
#    kal16 and kal; Mandarin espeak-ng voices) and a test set (English
#    flite slt, festival ked_diphone and cmu_us_slt_arctic_hts; Mandarin
#    espeak-ng variants and espeak 1.48), none of them a voice the digit
#    models were trained on (scripts/train-speech-*.sh); for both, recorded
#    people: Debian's gcin-voice and Asterisk prompts, TestBenchHuman), each reading also with white
#    noise at -45 and -35 dBFS, a 300-3400 Hz telephone band and tempo
#    x0.8 / x1.25; impostors: another challenge, one digit changed, three
#    or five digits, other sentences, silence, room noise, tones, music.
#    It prints the table of docs/biometrics.md with 95% Wilson bounds.
#
#   SHENFEN_SPEECH_BENCH=200        genuine readings per language, test set
#   SHENFEN_SPEECH_CALIBRATION=40   the same for the calibration set (the thresholds were chosen on 40)
#   SHENFEN_SPEECH_IMPOSTORS_zh=5   readings each checked against 5 other challenges and 5
#   SHENFEN_SPEECH_IMPOSTORS_en=5   with one digit changed (0: one impostor trial per reading)
#   SHENFEN_SPEECH_EN_MODEL=FILE    verify English with a digit model trained by
#                                   scripts/train-speech-en.sh instead of PocketSphinx (an
#                                   experiment; SHENFEN_SPEECH_EN_THRESHOLDS=digits,word,fit)
#   SHENFEN_SPEECH_TRIALS=FILE      also write every trial's scores (TSV)
#
# Mandarin is verified by the digit model trained on espeak-ng voices
# (scripts/train-speech-zh.sh): its calibration and test voices are
# espeak-ng variants the training did not use, and espeak 1.48's voice.
# English is verified by PocketSphinx.
source "$(dirname "$0")/../lib.sh"
export SHENFEN_SPEECH_BENCH="${SHENFEN_SPEECH_BENCH:-200}"
export SHENFEN_SPEECH_CALIBRATION="${SHENFEN_SPEECH_CALIBRATION:-40}"
export SHENFEN_SPEECH_IMPOSTORS_zh="${SHENFEN_SPEECH_IMPOSTORS_zh:-5}"
export SHENFEN_SPEECH_IMPOSTORS_en="${SHENFEN_SPEECH_IMPOSTORS_en:-5}"
base="${SHENFEN_SPEECH_BASE:-28e549b}"

log "speech CPU per decision, one core: before the verification ($base) and now"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" go.mod go.sum biometric/speech | tar -x -C "$tmp"
for round in 1 2; do
  (cd "$tmp" && go test ./biometric/speech/ -count=1 -run XXX -bench '^BenchmarkCheck$' -benchtime 20x -cpu 1) | grep -E '^Benchmark' | sed "s/^/before  /"
  go test ./biometric/speech/ -count=1 -run XXX -bench '^BenchmarkVerify(Mandarin)?$' -benchtime 20x -cpu 1 | grep -E '^Benchmark' | sed "s/^/now     /"
done

log "speech acceptance: $SHENFEN_SPEECH_CALIBRATION (calibration) and $SHENFEN_SPEECH_BENCH (test) readings per language"
go test ./biometric/speech/ -count=1 -run '^TestBenchSpeech$' -v -timeout 120m | grep -vE '^(=== RUN|--- PASS|PASS|ok )'
