"""Hostile arguments to creation functions, shape methods and operators, on every device: torch's
error type with a message naming the function and what was passed, raised before anything is
allocated or changed. Each case runs on tinygrad_chain and on torch (the oracle of the error type)
through one lambda taking the library."""
import numpy as np
import pytest

import tinygrad_chain as tc

torch = pytest.importorskip("torch")

_BAD = {  # name: (call on a library, error type, what our message says)
    "ones_str": (lambda m: m.ones("3"), TypeError, r"^ones\(\): argument 'size' must be tuple of ints, not str"),
    "ones_None": (lambda m: m.ones(None), TypeError, r"^ones\(\): argument 'size' .* not NoneType"),
    "ones_float": (lambda m: m.ones(2.5), TypeError, r"^ones\(\): argument 'size' .* not float"),
    "ones_mixed": (lambda m: m.ones([2, "a"]), TypeError, r"^ones\(\): .*element of type str at pos 1"),
    "zeros_neg": (lambda m: m.zeros(2, -1), RuntimeError, r"^zeros: Trying to create tensor with negative "
                                                          r"dimension -1: \[2, -1\]"),
    "empty_2**62": (lambda m: m.empty(2 ** 62), RuntimeError, r"^empty: Storage size calculation overflowed with "
                                                             r"sizes=\[4611686018427387904\]"),
    "empty_2**64": (lambda m: m.empty(2 ** 32, 2 ** 32), RuntimeError, r"^empty: Storage size calculation overflowed"),
    "empty_0_overflow": (lambda m: m.empty(2 ** 40, 2 ** 40, 0), None, r"^empty: Storage size calculation overflowed"),
    "rand_neg": (lambda m: m.rand(-2), RuntimeError, r"^rand: Trying to create tensor with negative dimension"),
    "full_None": (lambda m: m.full((2,), None), TypeError, r"^full\(\): argument 'fill_value' must be Number, not "
                                                          r"NoneType"),
    "full_str": (lambda m: m.full((2,), "a"), TypeError, r"^full\(\): argument 'fill_value' must be Number"),
    "zeros_like_str": (lambda m: m.zeros_like("a"), TypeError, r"^zeros_like\(\): argument 'input' must be Tensor"),
    "arange_inf": (lambda m: m.arange(0, float("inf")), RuntimeError, r"^arange: unsupported range: 0 -> inf"),
    "arange_nan": (lambda m: m.arange(0, float("nan")), RuntimeError, r"^arange: unsupported range: 0 -> nan"),
    "arange_sign": (lambda m: m.arange(10, 0, 1), RuntimeError, r"^arange: upper bound and larger bound "
                                                                r"inconsistent with step sign"),
    "arange_str": (lambda m: m.arange("3"), TypeError, r"^arange\(\): argument 'end' must be Number, not str"),
    "linspace_neg": (lambda m: m.linspace(0, 1, -1), RuntimeError, r"^linspace\(\): number of steps must be "
                                                                   r"non-negative"),
    "eye_neg": (lambda m: m.eye(-1), RuntimeError, r"^eye: n must be greater or equal to 0, got -1"),
    "reshape_str": (lambda m: m.ones(6).reshape("a"), TypeError, r"^reshape\(\): argument 'shape' must be tuple"),
    "reshape_float": (lambda m: m.ones(6).reshape(2.0, 3), TypeError, r"^reshape\(\): argument 'shape' .*float "
                                                                      r"at pos 0"),
    "reshape_overflow": (lambda m: m.ones(0).reshape(2 ** 62, 2 ** 62, 0), RuntimeError,
                         r"^reshape: Storage size calculation overflowed"),
    "expand_overflow": (lambda m: m.ones(1, 1).expand(2 ** 40, 2 ** 40), RuntimeError,
                        r"^expand: Storage size calculation overflowed"),
    "repeat_neg": (lambda m: m.ones(2).repeat(-1), RuntimeError, r"^repeat: Trying to create tensor with negative "
                                                                 r"dimension -2"),
    "permute_str": (lambda m: m.ones(2, 3).permute("ab"), TypeError, r"^permute\(\): argument 'dims'"),
    "flatten_reversed": (lambda m: m.ones(2, 3).flatten(1, 0), RuntimeError, r"^flatten\(\) has invalid args: "
                                                                             r"start_dim cannot come after end_dim"),
    "sum_dim_str": (lambda m: m.ones(2, 3).sum("a"), TypeError, r"^sum\(\): argument 'dim' must be int, not str"),
    "softmax_dim_float": (lambda m: m.ones(2, 3).softmax(1.0), TypeError, r"^softmax\(\): argument 'dim' must be int"),
    "split_0": (lambda m: m.ones(4).split(0), RuntimeError, r"^split: split_size can only be 0 if dimension size is "
                                                            r"0"),
    "split_neg_section": (lambda m: m.ones(4).split([5, -1]), RuntimeError, r"^split_with_sizes expects "
                                                                            r"split_sizes have only non-negative"),
    "chunk_0": (lambda m: m.ones(4).chunk(0), RuntimeError, r"^chunk expects `chunks` to be greater than 0, got: 0"),
    "narrow_past_end": (lambda m: m.ones(4).narrow(0, 3, 5), RuntimeError, r"^narrow\(\): start \(3\) \+ length "
                                                                           r"\(5\) exceeds dimension size \(4\)"),
    "narrow_start": (lambda m: m.ones(4).narrow(0, 7, 0), IndexError, r"^narrow\(\): start \(7\) out of range"),
    "gather_negative": (lambda m: m.ones(2, 3).gather(1, m.tensor([[-1], [0]])), RuntimeError,
                        r"^gather\(\): index -1 is out of bounds for dimension 1 with size 3"),
    "gather_past_end": (lambda m: m.ones(2, 3).gather(1, m.tensor([[3], [0]])), RuntimeError,
                        r"^gather\(\): index 3 is out of bounds for dimension 1 with size 3"),
    "gather_float": (lambda m: m.ones(2, 3).gather(1, m.tensor([[0.0], [0.0]])), RuntimeError,
                     r"^gather\(\): Expected dtype int32/int64 for index, got float32"),
    "cat_list": (lambda m: m.cat([m.ones(2), [1.0, 2.0]]), TypeError, r"^cat\(\): expected Tensor as element 1 in "
                                                                      r"argument 0, but got list"),
    "stack_str": (lambda m: m.stack([m.ones(2), "a"]), TypeError, r"^stack\(\): expected Tensor as element 1"),
    "add_str": (lambda m: m.ones(2) + "a", TypeError, r"^add: unsupported operand type str \('a'\): expected a "
                                                      r"Tensor or a number \(inputs: \[2\] float32 on \w+, 'a'\)"),
    "radd_None": (lambda m: None + m.ones(2), TypeError, r"^add: unsupported operand type NoneType"),
    "mul_list": (lambda m: m.ones(2) * [1, "a"], TypeError, r"^mul: unsupported operand type list"),
    "sub_dict": (lambda m: m.ones(2) - {}, TypeError, r"^sub: unsupported operand type dict"),
    "pow_str": (lambda m: m.ones(2) ** "a", TypeError, r"^pow: unsupported operand type str"),
    "add_fn_str": (lambda m: m.add(m.ones(2), "a"), TypeError, r"^add: unsupported operand type str"),
    "where_str": (lambda m: m.where(m.ones(2) > 0, m.ones(2), "a"), TypeError, r"^where: unsupported operand"),
    "clamp_str": (lambda m: m.ones(2).clamp("a"), TypeError, r"^clamp\(\): argument 'min' must be Number, not str"),
    "clamp_max_list": (lambda m: m.ones(2).clamp(max=[1.0]), TypeError, r"^clamp\(\): argument 'max' must be Number"),
    "masked_fill_float_mask": (lambda m: m.ones(2).masked_fill(m.ones(2), 0.0), RuntimeError,
                               r"^masked_fill: only boolean masks are supported, got float32"),
    "pad_negative_size": (lambda m: m.nn.functional.pad(m.ones(2, 2), (-3, 0)), RuntimeError,
                          r"^pad: the input size 2 of dim 1, padded by \(-3, 0\), gives a negative output size"),
    "interpolate_negative": (lambda m: m.nn.functional.interpolate(m.ones(1, 1, 2, 2), size=(-1, 2)), RuntimeError,
                             r"^interpolate: Input and output sizes should be greater than 0.*output \[-1, 2\]"),
    "interpolate_scale_0": (lambda m: m.nn.functional.interpolate(m.ones(1, 1, 2, 2), scale_factor=0), RuntimeError,
                            r"^interpolate: .*output \[0, 0\]"),
    "bce_nan": (lambda m: m.nn.functional.binary_cross_entropy(m.tensor([float("nan")]), m.ones(1)), RuntimeError,
                r"^binary_cross_entropy: all elements of input should be between 0 and 1"),
    "scatter_negative": (lambda m: m.zeros(2, 3).scatter(1, m.tensor([[-1], [0]]), 1.0), RuntimeError,
                         r"^scatter\(\): index -1 is out of bounds for dimension 1 with size 3"),
    "scatter_add_past_end": (lambda m: m.zeros(2, 3).scatter_add(1, m.tensor([[3], [0]]), m.ones(2, 1)), RuntimeError,
                             r"^scatter_add\(\): index 3 is out of bounds for dimension 1 with size 3"),
    "index_select_negative": (lambda m: m.ones(2, 3).index_select(0, m.tensor([-1])), IndexError,
                              r"^index_select\(\): index -1 is out of bounds for dimension 0 with size 2"),
    "index_add_negative": (lambda m: m.zeros(3).index_add(0, m.tensor([-1]), m.ones(1)), IndexError,
                           r"^index_add\(\): index -1 is out of bounds"),
    "index_copy_negative": (lambda m: m.zeros(3).index_copy(0, m.tensor([-1]), m.ones(1)), IndexError,
                            r"^index_copy\(\): index -1 is out of bounds"),
    "repeat_interleave_negative": (lambda m: m.ones(3).repeat_interleave(-1), RuntimeError,
                                   r"^repeat_interleave: Repeats must be non-negative"),
    "diff_negative_order": (lambda m: m.ones(5).diff(n=-1), RuntimeError, r"^diff: order must be non-negative"),
    "unfold_step_0": (lambda m: m.ones(5).unfold(0, 2, 0), RuntimeError, r"^unfold: step must be > 0"),
    "quantile_q_1.5": (lambda m: m.quantile(m.ones(3), 1.5), RuntimeError, r"^quantile\(\) q must be in the range "
                                                                            r"\[0, 1\] but got 1.5"),
    "normal_negative_std": (lambda m: m.normal(0.0, -1.0, (2,)), RuntimeError, r"^normal expects std >= 0.0"),
    "cdist_negative_p": (lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), p=-1), RuntimeError, r"^cdist only supports "
                                                                                            r"non-negative p"),
    "cdist_columns": (lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)), RuntimeError, r"^cdist: X1 and X2 must have the "
                                                                                   r"same number of columns"),
    "kl_div_reduction": (lambda m: m.nn.functional.kl_div(m.ones(2, 3), m.ones(2, 3), reduction="foo"), ValueError,
                         r"^foo is not a valid value for reduction"),
    "pad_circular_twice": (lambda m: m.nn.functional.pad(m.ones(1, 2, 2), (5, 5), mode="circular"), RuntimeError,
                           r"^pad: Padding value causes wrapping around more than once"),
    "embedding_bag_offsets": (lambda m: m.nn.functional.embedding_bag(m.tensor([0, 1, 2]), m.ones(3, 2),
                                                                      m.tensor([0, 5])), RuntimeError,
                              r"^embedding_bag: offsets must start at 0 and rise to at most the input's length 3"),
    "cross_entropy_bool_target": (lambda m: m.nn.functional.cross_entropy(m.ones(2, 3), m.tensor([True, False])),
                                  RuntimeError, r"^cross_entropy: expected scalar type Long but found bool"),
    "backward_str": (lambda m: (m.ones(2, requires_grad=True) * 2).backward("a"), TypeError,
                     r"^backward: gradients can be either Tensors, numbers or None, but got str"),
    "grad_str": (lambda m: m.autograd.grad((m.ones(2, requires_grad=True) * 2).sum(), "a"), RuntimeError,
                 r"^grad: all inputs have to be Tensors, but got str"),
    "conv_bias": (lambda m: m.nn.functional.conv2d(m.ones(1, 1, 3, 3), m.ones(2, 1, 2, 2), m.ones(3)), RuntimeError,
                  r"^conv2d: Given weight of size \[2, 1, 2, 2\], expected bias to be 1-dimensional with 2 "
                  r"elements of float32, but got bias of size \[3\] float32 instead"),
    "conv1d_bias": (lambda m: m.nn.functional.conv1d(m.ones(1, 1, 3), m.ones(2, 1, 2), m.ones(2, 1)), RuntimeError,
                    r"^conv1d: Given weight .* but got bias of size \[2, 1\]"),
    "conv_transpose_bias": (lambda m: m.nn.functional.conv_transpose2d(m.ones(1, 1, 3, 3), m.ones(1, 2, 2, 2),
                                                                       m.ones(1)), RuntimeError,
                            r"^conv_transpose2d: Given weight .* with 2 elements"),
}


@pytest.mark.parametrize("name", list(_BAD))
def test_hostile_argument_is_refused_like_torch(name):
    call, error, match = _BAD[name]
    with pytest.raises(error or RuntimeError, match=match):
        call(tc)
    if error is not None:  # torch itself may take a zero-size shape whose product overflows
        with pytest.raises(error):
            call(torch)


def test_inplace_operator_with_a_string_changes_nothing():
    x = tc.tensor([1.0, 2.0])
    version = x._version[0]
    for op in (lambda: x.add_("a"), lambda: x.mul_(None), lambda: x.__iadd__([1, "a"])):
        with pytest.raises(TypeError, match="unsupported operand type"):
            op()
    assert x.tolist() == [1.0, 2.0] and x._version[0] == version


def test_accepted_sizes_and_operands_still_work():
    """What torch takes: NumPy integers and 1-element integer tensors as sizes, NumPy scalars and arrays
    as operands, zero sizes, a negative narrow start, split by sections."""
    assert tc.ones(np.int64(2), tc.tensor(3)).shape == (2, 3)
    assert tc.zeros((np.int32(2), 0)).shape == (2, 0)
    assert tc.empty(2 ** 40, 0).shape == (2 ** 40, 0)
    assert tc.ones(6).reshape(np.int64(2), -1).shape == (2, 3)
    assert tc.full((2,), np.float32(1.5)).tolist() == [1.5, 1.5]
    assert tc.arange(np.int64(3)).tolist() == [0, 1, 2]
    assert tc.arange(5, 0, -2).tolist() == torch.arange(5, 0, -2).tolist()
    assert tc.ones(2, 3).sum(np.int64(1)).tolist() == [3.0, 3.0]
    assert (tc.ones(2) * np.float32(2)).tolist() == [2.0, 2.0]
    assert (tc.ones(2) + np.array([1.0, 2.0], np.float32)).tolist() == [2.0, 3.0]
    x = tc.arange(5)
    assert x.narrow(0, -2, 2).tolist() == torch.arange(5).narrow(0, -2, 2).tolist()
    assert [t.tolist() for t in x.split([2, 0, 3])] == [[0, 1], [], [2, 3, 4]]
    assert [t.shape for t in tc.ones(0).split(0)] == [(0,)]
    assert x.gather(0, tc.tensor([4, 0])).tolist() == [4, 0]
    assert tc.ones(0).gather(0, tc.zeros(0, dtype=tc.int64)).shape == (0,)
    for v in (1.0, 0.0):  # a 0-d tensor's nonzero: one row of no coordinates, or none
        assert tc.tensor(v).nonzero().shape == torch.tensor(v).nonzero().shape
    values, indices = tc.ones(2, 0).cummax(1)
    assert values.shape == indices.shape == (2, 0) and indices.dtype is tc.int64
