"""Carry out one request against a namespace of (possibly untrusted) code.

This module runs inside the worker for student code, and in the trusted process for the
reference and the catalogued mistakes, so both sides compute answers the same way. It imports
nothing from the grader and holds no expected values.

A request is plain data::

    {"op": "call", "target": "LSTMCell", "init": {...} | None, "state_dict": {...} | None,
     "dtype": "float32", "method": "forward", "args": [...], "kwargs": {...},
     "grad_outputs": [...] | None}
    {"op": "inspect", "target": "LSTMCell", "method": "forward"}

and the answer is a :class:`~dlgrade.exposed.wire.CallAnswer`, an
:class:`~dlgrade.exposed.wire.InspectAnswer` or an :class:`~dlgrade.exposed.wire.ErrorAnswer`
(the types are in :mod:`dlgrade.exposed.wire`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch

from dlgrade.exposed import wire
from dlgrade.exposed.tripwires import ForbiddenCallTracker  # noqa: F401 - where code has looked it up
from dlgrade.exposed.tripwires import ForbiddenUseDetector, tripped_count, tripped_since

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def leaves(value: Any) -> list[torch.Tensor]:
    """The tensors inside a nested value, in a fixed order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in leaves(v)]
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in leaves(value[k])]
    return []


def map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(map_tensors(v, fn) for v in value)
    if isinstance(value, list):
        return [map_tensors(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: map_tensors(v, fn) for k, v in value.items()}
    return value


def _signature(obj: Any) -> list[str] | None:
    try:
        return list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return None


def inspect_target(namespace: Mapping[str, Any], request: wire.InspectRequest) -> wire.InspectAnswer:
    """Describe ``target`` (class or function) and the signature of ``method`` if given."""
    name = request["target"]
    obj = namespace.get(name)
    if obj is None:
        return {"ok": True, "kind": wire.TargetKind.MISSING}
    kind = (wire.TargetKind.CLASS if inspect.isclass(obj) else wire.TargetKind.FUNCTION if callable(obj)
            else wire.TargetKind.OTHER)
    info: wire.InspectAnswer = {"ok": True, "kind": kind}
    if kind is wire.TargetKind.CLASS:
        info["is_module"] = issubclass(obj, torch.nn.Module)
        info["init"] = _signature(obj.__init__)
        method = request.get("method")
        if method:
            info["method"] = _signature(getattr(obj, method, None)) if hasattr(obj, method) else None
    elif kind is wire.TargetKind.FUNCTION:
        info["signature"] = _signature(obj)
    return info


def build(namespace: Mapping[str, Any], request: wire.CallRequest, tracker: ForbiddenUseDetector):
    """Construct the module (or fetch the function) named by ``request["target"]``."""
    name = request["target"]
    obj = namespace.get(name)
    if obj is None:
        raise LookupError(f"{name} is not defined in your code")
    init = request.get("init")
    # the CPU generator only: torch.manual_seed also queues a lazy seeding of every accelerator
    # type, with a stack trace each time (0.3 ms a call); so the same request is answered the same
    seed = request.get("seed", 0)
    torch.default_generator.manual_seed(seed if type(seed) is int and 0 <= seed < 2**63 else 0)
    if init is None:
        if not callable(obj):
            raise TypeError(f"{name} is not a function")
        return obj
    with tracker.watch(operators=False):
        module = obj(**init)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{name}(...) did not build a torch.nn.Module")
    dtype = DTYPES[request.get("dtype", "float32")]
    module.to(dtype)
    state = request.get("state_dict")
    if state is not None:
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(
                f"{name}'s parameters do not match the given layout: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)} (keep __init__ as it was handed out)"
            )
    return module


def call(namespace: Mapping[str, Any], request: wire.CallRequest,
         forbidden: Mapping[str, str]) -> wire.CallAnswer | wire.ErrorAnswer:
    """Build the target, call it, optionally backpropagate; return outputs and gradients, and
    the labels of the forbidden functions any of it reached (``"forbidden"``)."""
    tracker = ForbiddenUseDetector(forbidden)
    tripped_before = tripped_count()
    response = _call(namespace, request, tracker)
    for label in tripped_since(tripped_before):
        if label not in tracker.used:
            tracker.used.append(label)
    response["forbidden"] = tracker.used
    return response


def _call(namespace: Mapping[str, Any], request: wire.CallRequest,
          tracker: ForbiddenUseDetector) -> wire.CallAnswer | wire.ErrorAnswer:
    try:
        target = build(namespace, request, tracker)
    except BaseException as exc:
        return wire.exception_answer(wire.Where.BUILDING, exc)
    is_module = isinstance(target, torch.nn.Module)
    method = getattr(target, request.get("method") or "forward") if is_module else target
    args = list(request.get("args") or [])
    kwargs = dict(request.get("kwargs") or {})
    grad_outputs = request.get("grad_outputs")
    # the call gets copies: code that modifies its inputs in place changes them, never the
    # request (in the trusted process the reference and the mistakes answer the very tensors
    # every submission is sent; a notebook's check cell, the checks file's)
    track = grad_outputs is not None
    args, kwargs = map_tensors(
        [args, kwargs], lambda t: t.detach().clone().requires_grad_(track and t.is_floating_point())
    )
    inputs = leaves([args, kwargs])
    device = moved_to(target) if is_module else None
    if device is not None:  # the code put its parameters on a GPU: its inputs go there too
        args, kwargs = map_tensors([args, kwargs], lambda t: t.to(device))
    given = leaves([args, kwargs])
    try:
        with tracker.watch():
            out = method(*args, **kwargs)
    except BaseException as exc:
        return wire.exception_answer(wire.Where.CALLING, exc) | {"forbidden": tracker.used}
    response: wire.CallAnswer = {"ok": True, "out": out, "forbidden": tracker.used, "inputs_after": []}
    try:  # everything goes back on the CPU, where it is compared, whatever device it is on
        # the inputs as they are after the call; the trusted side compares them with what it sent
        response["inputs_after"] = [on_cpu(t.detach()).clone() for t in given]
        if grad_outputs is not None:
            try:
                response["grads"] = _gradients(out, grad_outputs, inputs, target if is_module else None)
            except BaseException as exc:
                return wire.exception_answer(wire.Where.GRADIENTS, exc) | {"forbidden": tracker.used}
        response["out"] = map_tensors(out, lambda t: on_cpu(t.detach()))
    except UnreadableTensor as exc:
        return wire.error_answer(wire.Where.RETURNING, str(exc)) | {"forbidden": tracker.used}
    return response


class UnreadableTensor(ValueError):
    """A tensor whose values cannot be brought to the CPU (the meta device, a fake tensor)."""


def on_cpu(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` on the CPU (itself when it is there); :class:`UnreadableTensor` when it holds
    no values that can be read there."""
    if tensor.device.type == "cpu":
        return tensor
    if tensor.device.type == "meta":
        raise UnreadableTensor("your code returned a tensor on the 'meta' device, which holds no values: "
                               "compute on the inputs' device (x.device)")
    try:
        return tensor.cpu()
    except Exception as exc:
        raise UnreadableTensor(f"your code returned a tensor on device {str(tensor.device)!r} whose values "
                               f"cannot be read ({type(exc).__name__}): compute on the inputs' device (x.device)") from None


def moved_to(module: torch.nn.Module) -> torch.device | None:
    """The device a module's parameters (or buffers) were moved to, when it is not the CPU."""
    first = next(module.parameters(), None)
    if first is None:
        first = next(module.buffers(), None)
    return None if first is None or first.device.type == "cpu" else first.device


def _gradients(out: Any, grad_outputs: Any, inputs: list[torch.Tensor], module) -> wire.Gradients:
    outs, grads = leaves(out), leaves(grad_outputs)
    if len(outs) != len(grads):
        raise ValueError(f"expected {len(grads)} output tensors to backpropagate through, got {len(outs)}")
    pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
    for o, g in pairs:
        if o.shape != g.shape:
            raise ValueError(f"an output has shape {list(o.shape)}, expected {list(g.shape)}")
    params = dict(module.named_parameters()) if module is not None else {}
    wrt = [t for t in inputs if t.requires_grad] + list(params.values())
    if pairs and wrt:
        # d/dw sum(o * g) is exactly the vector-Jacobian product with upstream gradients g (the
        # product's backward hands g on unchanged); unlike passing g as grad_outputs, it does not
        # make torch import sympy for a shape check (0.3 s in every fresh process)
        surrogate = sum((o * g.to(o.device, o.dtype)).sum() for o, g in pairs)
        result = [None if r is None else on_cpu(r) for r in torch.autograd.grad(surrogate, wrt, allow_unused=True)]
    else:
        result = [None] * len(wrt)
    n_inputs = len(wrt) - len(params)
    input_grads: list[torch.Tensor | None] = []
    it = iter(result[:n_inputs])
    for t in inputs:
        input_grads.append(next(it) if t.requires_grad else None)
    return {"inputs": input_grads, "params": dict(zip(params, result[n_inputs:]))}


def run(namespace: Mapping[str, Any], request: wire.Request, forbidden: Mapping[str, str]) -> wire.Answer:
    """Dispatch a request by its ``op``."""
    op = request.get("op")
    if op == wire.Op.CALL:
        return call(namespace, request, forbidden)  # type: ignore[arg-type]
    if op == wire.Op.INSPECT:
        return inspect_target(namespace, request)  # type: ignore[arg-type]
    return wire.error_answer(wire.Where.PROTOCOL, f"unknown op {op!r}")
