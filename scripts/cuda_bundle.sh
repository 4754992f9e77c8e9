#!/usr/bin/env bash
# Builds here what the CUDA checks need, for a GPU machine without a Rust toolchain or
# network: the `mosaic` and `mosaic-kernels` test binaries (the `on_cuda` tests of
# `cargo xtask test --backend cuda`) and the benchmark binary, all with the CUDA backend
# (cudarc loads the driver at run time, so they build on a machine without one), stripped
# and compressed, plus `run.sh`.
#
#   scripts/cuda_bundle.sh [DIR]        # DIR defaults to .gpu (keep it out of git)
#   # then, on the GPU machine, from a copy of this working tree with DIR in it:
#   bash DIR/run.sh [BENCH_FILTER]      # BENCH_FILTER as `cargo xtask bench --filter`
#
# run.sh prints the tests' summaries, then criterion's timings of the selected benchmark
# cases (default: the tensor-fusion and low-rank cases at batch 256 and 4096 with their composite
# counterparts); the whole logs, `cases.tsv` and criterion's estimates go under $OUT (or
# DIR/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.gpu}"
# The feature sets `cargo xtask test` and `cargo xtask bench` build with (xtask/src/main.rs),
# so that nothing is built twice.
mosaic=mosaic/flex,mosaic/ndarray,mosaic/wgpu,mosaic/cuda
cli=mosaic-cli/flex,mosaic-cli/ndarray,mosaic-cli/wgpu,mosaic-cli/cuda
benches=mosaic-benches/flex,mosaic-benches/ndarray,mosaic-benches/wgpu,mosaic-benches/cuda

# The executable cargo reports, in its JSON messages, for the target whose source is $1
# (target names are ambiguous: the CLI's binary is also called `mosaic`).
executable() {
    grep "\"src_path\":\"$PWD/$1\"" | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4
}

echo "cuda_bundle: building the mosaic test binary and the benchmarks (features $mosaic)" >&2
built=$(cargo test --workspace --features "$mosaic,$cli" --no-run --message-format=json)
tests=$(executable crates/mosaic/src/lib.rs <<<"$built")
kernels=$(executable kernels/src/lib.rs <<<"$built")
bench=$(cargo bench --profile dev -p mosaic-benches --bench fusion --features "$mosaic,$benches" \
    --no-run --message-format=json | executable benches/benches/fusion.rs)
[ -x "$tests" ] && [ -x "$kernels" ] && [ -x "$bench" ] || { echo "cuda_bundle: no executable found" >&2; exit 1; }

mkdir -p "$dir"
for pair in "mosaic_tests:$tests" "kernel_tests:$kernels" "fusion_bench:$bench"; do
    name=${pair%%:*}
    strip -o "$dir/$name" "${pair#*:}"
    gzip -9 -f "$dir/$name"
done

# The fixture tests find their files through the path the crate was built at.
cat >"$dir/run.sh" <<EOF
#!/usr/bin/env bash
# Written by scripts/cuda_bundle.sh; run from the repository root on the GPU machine.
set -uo pipefail
here=\$(cd "\$(dirname "\$0")" && pwd)
root=\$(cd "\$here/.." && pwd)
built_at="$(pwd)"
if [ "\$root" != "\$built_at" ] && [ ! -e "\$built_at" ]; then
    mkdir -p "\$(dirname "\$built_at")" && ln -s "\$root" "\$built_at"
fi
# Some images list CUDA's stub libcuda.so before the driver's (CUDA_ERROR_STUB_LIBRARY).
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:\${LD_LIBRARY_PATH:-}
for name in mosaic_tests kernel_tests fusion_bench; do
    [ -x "\$here/\$name" ] || { gunzip -kf "\$here/\$name.gz" && chmod +x "\$here/\$name"; }
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== cargo xtask test --backend cuda (the on_cuda tests)"
out="\${OUT:-\$here/bench}"
mkdir -p "\$out"
for name in kernel_tests mosaic_tests; do
    echo "-- \$name (whole log in \$out/\$name.log)"
    "\$here/\$name" on_cuda >"\$out/\$name.log" 2>&1
    grep -E ' FAILED|panicked|^test result' "\$out/\$name.log" | tail -40
done
echo "== benchmarks"
filter="\${1:-tfn/32x32x128-o128/256,tfn/32x32x128-o128/composite/256,tfn/32x32x128-o128/4096,lmf/32x32x128-o128-r32/256,lmf/32x32x128-o128-r32/composite/256,lmf/1024x1024-o512-r16/256,bilinear/256x256-o128/256}"
MOSAIC_BENCH_BACKEND=cuda MOSAIC_BENCH_QUICK=0 MOSAIC_BENCH_FILTER="\$filter" \\
    MOSAIC_BENCH_OUT="\$out" CRITERION_HOME="\$out/criterion" \\
    "\$here/fusion_bench" --bench --warm-up-time 1 --measurement-time 2 2>&1 \\
    | tee "\$out/bench.log" | grep -E '^mosaic-bench|/(forward|train|matmul)/|time:|panicked|rror'
cat "\$out/cases.tsv" 2>/dev/null
EOF
chmod +x "$dir/run.sh"
du -ch "$dir"/*.gz | tail -1 >&2
