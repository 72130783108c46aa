// bench.wgsl: the smallest useful dispatch, for measuring dispatch overhead.
// Each dispatch adds 1 to every element, so consecutive dispatches depend
// on each other and the driver cannot overlap or drop them.

@group(0) @binding(1) var<storage, read_write> x: array<f32>; // x: (n,)

@compute @workgroup_size(64, 1, 1)
fn bump(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x < arrayLength(&x)) {
        x[gid.x] += 1.0;
    }
}
