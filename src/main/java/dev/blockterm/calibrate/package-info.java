/**
 * Model inputs from what users hold: lines of text tokenized by a Hugging Face {@code tokenizer.json}
 * ({@link dev.blockterm.calibrate.TextFeeds}; the file checked first by
 * {@link dev.blockterm.calibrate.TokenizerJson}, as the native library aborts on some), a folder of PNG/JPEG images resized and normalized
 * ({@link dev.blockterm.calibrate.ImageFeeds}). Each gives the same {@code Map<String, NpyArray>} of
 * feeds that {@code .npy} files give, for calibration or for {@code verify}.
 */
package dev.blockterm.calibrate;
