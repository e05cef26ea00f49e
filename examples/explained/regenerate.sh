#!/bin/sh
# Rewrite every kept explanation from its network file (the tests compare them with fresh ones).
set -e
cd "$(dirname "$0")/../.."
for name in balaji_linear pvreddy_3_3_1 sadiya_2_2_2 mazur relu_sigmoid_softmax tied_autoencoder swish_gelu xor; do
    symbackprop explain "examples/$name.toml" -o "examples/explained/$name.md"
    symbackprop explain "examples/$name.toml" --format latex -o "examples/explained/$name.tex"
done
for file in examples/graphs/*.toml examples/layers/conv*.toml examples/layers/rnn*.toml; do
    name=$(basename "$file" .toml)
    symbackprop explain "$file" -o "examples/explained/$name.md"
    symbackprop explain "$file" --format latex -o "examples/explained/$name.tex"
done
for name in xor pvreddy_3_3_1_batch sadiya_2_2_2_batch; do
    symbackprop explain "examples/$name.toml" --notation matrix -o "examples/explained/${name}_matrix.md"
    symbackprop explain "examples/$name.toml" --notation matrix --format latex -o "examples/explained/${name}_matrix.tex"
done
