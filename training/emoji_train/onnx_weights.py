"""Trained torch modules back from the shipped ONNX graphs (the model folder is all that ships; the
training state is not kept). The exporter renames some weights: Linear weights fold to transposed
'onnx::MatMul_N' initializers, GroupNorm affines to [C, 1, 1] 'onnx::Mul_N' / 'onnx::Add_N', and big
ones are stored fp16 behind a Cast (export.fp16_storage). Node names carry the module path
(/m/down_blocks.0/.../to_q/MatMul), so each renamed initializer is placed by the node that reads it."""
import numpy as np
import torch

# (op, input index) -> which parameter of the module named by the node it is, and how it is laid out
ROLES = {("MatMul", 1): ("weight", "T"), ("Gemm", 1): ("weight", "gemm"), ("Gemm", 2): ("bias", ""),
         ("Conv", 1): ("weight", ""), ("Conv", 2): ("bias", ""), ("Mul", 1): ("weight", ""), ("Add", 1): ("bias", ""),
         ("LayerNormalization", 1): ("weight", ""), ("LayerNormalization", 2): ("bias", "")}


def onnx_state_dict(module, path, keep=lambda k: True):
    """{state-dict key: tensor} for every key of `module` (filtered by keep) found in the graph at path;
    raises naming the keys it could not place."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(path).graph
    const = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:  # fp16 storage, fp32 compute: '<name>_fp16' -Cast-> '<name>'
        if n.op_type == "Cast" and n.input[0] in const:
            const[n.output[0]] = const[n.input[0]].astype(np.float32)
    want = {k: v for k, v in module.state_dict().items() if keep(k)}
    got = {}
    for k in want:
        for name in (k, "m." + k):
            if name in const:
                got[k] = const[name]
    for n in g.node:
        parts = [p for p in n.name.split("/") if p][:-1]
        if parts and parts[0] == "m":
            parts = parts[1:]
        for j, inp in enumerate(n.input):
            role = ROLES.get((n.op_type, j))
            if role is None or inp not in const:
                continue
            key = ".".join(parts + [role[0]])
            if key not in want or key in got:
                continue
            a = const[inp]
            if role[1] == "T" or (role[1] == "gemm" and not any(x.name == "transB" and x.i for x in n.attribute)):
                a = a.T
            if a.size == want[key].numel():
                got[key] = a
    missing = sorted(set(want) - set(got))
    if missing:
        raise RuntimeError(f"{path}: {len(missing)} weights not found in the graph, e.g. {missing[:5]}")
    return {k: torch.from_numpy(np.ascontiguousarray(got[k], np.float32)).reshape(want[k].shape) for k in want}


def load_onnx_weights(module, path, keep=lambda k: True):
    """module with the weights of the graph at path (only keys passing keep; the rest must be absent there)."""
    sd = onnx_state_dict(module, path, keep)
    res = module.load_state_dict(sd, strict=False)
    assert not res.unexpected_keys, res.unexpected_keys
    return module
