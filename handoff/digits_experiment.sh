#!/usr/bin/env bash
# The fine-tuning handoff on the bundled MLP: compress at 30x in the merged layout (where post-training
# error is worst), fine-tune the factors in PyTorch from the fitted start and from a random start, put
# them back with import-factors and measure each model in ONNX Runtime. Prints a Markdown table.
#   handoff/digits_experiment.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
py=/usr/bin/python3
acc() { # accuracy of the compressed column of verify --labels
  ./blockterm verify models/digits_mlp.onnx "$1" --inputs testdata/digits_x.npy --labels testdata/digits_y.npy \
    | awk 'NR==2 {print $NF}'
}
./blockterm compress models/digits_mlp.onnx -o "$work/mlp30.bt.onnx" --layout merged --ratio 30 --force \
  --factors "$work/mlp30.safetensors" -q | tail -1
dense=$(./blockterm verify models/digits_mlp.onnx "$work/mlp30.bt.onnx" --inputs testdata/digits_x.npy \
  --labels testdata/digits_y.npy | awk 'NR==2 {print $(NF-1)}')
echo "| epochs | dense | compressed, not tuned | fitted start, fine-tuned | random start, trained |"
echo "|---|---|---|---|---|"
compressed=$(acc "$work/mlp30.bt.onnx")
for epochs in 1 3 10 30; do
  row="| $epochs | $dense | $compressed"
  for start in fitted random; do
    flag=""; [ "$start" = random ] && flag="--random-start"
    $py handoff/finetune_digits_mlp.py models/digits_mlp.onnx "$work/mlp30.safetensors" \
      "$work/$start-$epochs.safetensors" --epochs "$epochs" $flag > "$work/$start-$epochs.log"
    ./blockterm import-factors "$work/mlp30.bt.onnx" "$work/$start-$epochs.safetensors" \
      -o "$work/$start-$epochs.onnx" > /dev/null
    row="$row | $(acc "$work/$start-$epochs.onnx") (torch: $(awk '{print $3}' "$work/$start-$epochs.log"))"
  done
  echo "$row |"
done
