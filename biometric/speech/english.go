package speech

// englishDigitModelVersion names the English digit model (en-digits.gob),
// trained here on several synthesisers' voices (train_test.go).
const englishDigitModelVersion = "shenfen-en-digits/hmm-multi-engine-trained/forced-vs-loop/v1"
