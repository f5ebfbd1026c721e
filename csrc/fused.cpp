// Binding and threading for fused elementwise programs (fused_impl.h runs them;
// backends/lazy.py compiles them from the cpp backend's lazy arrays).
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "pyutil.h"

namespace tc {

namespace {
// Elements per task. Fixed, so a sum adds the same partial sums in the same order
// whatever the thread count.
constexpr i64 FUSED_CHUNK = 1 << 15;

bool unary_op(FOp op) { return TC_FUSED_UNARY(op); }

[[noreturn]] void bad(const std::string& what) { throw py::value_error("fused_run: " + what); }

// Every register an instruction reads or writes exists, and writes go to outputs or scratch.
void check_code(const std::vector<FInstr>& code, int n_reg, int first_out, int n_sums) {
    for (std::size_t c = 0; c < code.size(); ++c) {
        const FInstr& i = code[c];
        std::string at = "instruction " + std::to_string(c);
        if (i.op < 0 || i.op >= int(FOp::count_)) bad(at + " has an unknown op " + std::to_string(i.op));
        FOp op = FOp(i.op);
        if (i.a < 0 || i.a >= n_reg) bad(at + " reads a register out of range");
        if (unary_op(op) ? i.b != -1 : (i.b < 0 || i.b >= n_reg)) bad(at + " has a bad second operand");
        if (op == FOp::sum ? (i.dst < 0 || i.dst >= n_sums) : (i.dst < first_out || i.dst >= n_reg))
            bad(at + " writes where it may not");
        if (op != FOp::sum && (i.dst == i.a || i.dst == i.b)) bad(at + " overwrites its own operand");
    }
}

// Elements per block. Each block costs the instruction dispatch and every input's placement, so
// most programs run best with FUSED_BLOCK; but a program streaming five or more arrays through memory
// (16 MiB+ in all; the elementwise chain's backward: 3 in, 3 out) ran faster with blocks of 128,
// in-process on Zen 4 at 2 threads: chain backward float32 at 4.2M 8.1 -> 7.8 ms, at 2M 5.9 -> 2.5,
// at 512K 0.65 -> 0.57; 3 in 2 out at 1M 0.64 -> 0.49; while the chain in cache (256K, 6 MiB) and
// 4-array programs at 1M (16 MiB) ran 8-35% slower with 128. A program with a sum keeps FUSED_BLOCK:
// a sum adds block by block, so its bits must not depend on the program's other arrays.
i64 fused_block(const FusedProgram& p, i64 n, i64 itemsize) {
    const i64 arrays = p.n_in + p.n_out;
    if (p.n_sums == 0 && arrays >= 5 && arrays * n * itemsize >= (i64(16) << 20)) return 128;
    return FUSED_BLOCK;
}

template <class T>
void run_t(const FusedProgram& p, i64 n, std::vector<double>& sums) {
    const i64 chunks = (n + FUSED_CHUNK - 1) / FUSED_CHUNK;
    std::vector<double> partial(std::size_t(chunks * p.n_sums), 0.0);
    auto f = tk<T>().fused;
    {
        py::gil_scoped_release nogil;
        parallel_for(chunks, 2, 1, [&](i64 cb, i64 ce) {
            std::vector<T> work(std::size_t((p.n_const + p.n_scratch + p.n_in) * p.block));
            for (i64 c = cb; c < ce; ++c) {
                i64 e = (c + 1) * FUSED_CHUNK < n ? (c + 1) * FUSED_CHUNK : n;
                f(p, c * FUSED_CHUNK, e, work.data(), partial.data() + c * p.n_sums);
            }
        });
    }
    for (i64 c = 0; c < chunks; ++c)
        for (int k = 0; k < p.n_sums; ++k) sums[std::size_t(k)] += partial[std::size_t(c * p.n_sums + k)];
}
}  // namespace

void bind_fused(py::module_& m) {
    m.def("fused_run", [](const py::array_t<std::int32_t, py::array::c_style>& code, const py::list& inputs,
                          const py::array_t<double, py::array::c_style>& consts, const py::list& outputs,
                          int n_scratch, int n_sums, const std::vector<i64>& stretch, i64 block) {
        if (code.ndim() != 2 || code.shape(1) != 4) bad("code must be an (n, 4) int32 array");
        std::vector<py::array> ins, outs;
        for (auto& a : inputs) ins.push_back(py::reinterpret_borrow<py::array>(a));
        for (auto& a : outputs) outs.push_back(py::reinterpret_borrow<py::array>(a));
        if (ins.empty()) bad("needs at least one input array");
        // the program runs over its largest input; smaller ones are broadcast (see FusedProgram)
        const py::array* full = &ins[0];
        for (auto& a : ins)
            if (a.size() > full->size()) full = &a;
        const py::array& ref = *full;
        check_float(ref, "fused_run");
        for (auto& a : outs) check_same(ref, a, "fused_run");
        if (!stretch.empty() && stretch.size() != ins.size()) bad("needs one stretch per input");
        std::vector<i64> in_size, in_stretch;
        for (std::size_t k = 0; k < ins.size(); ++k) {
            const py::array& a = ins[k];
            check_contig(a, "fused_run");
            if (!same_dtype(a.dtype(), ref.dtype())) bad("inputs differ in dtype");
            const i64 r = stretch.empty() ? 1 : stretch[k];
            if (r < 1) bad("a stretch must be at least 1");
            const i64 span = i64(a.size()) * r;  // elements one pass over the input covers
            if (a.size() == 0 ? ref.size() != 0 : i64(ref.size()) % span != 0)
                bad("an input of " + std::to_string(a.size()) + " elements (stretch " + std::to_string(r) +
                    ") does not repeat evenly over " + std::to_string(ref.size()));
            in_size.push_back(a.size() ? i64(a.size()) : 1);
            in_stretch.push_back(r);
        }
        for (auto& a : outs)
            if (!a.writeable()) bad("an output is read-only");
        int n_in = int(ins.size()), n_const = int(consts.size()), n_out = int(outs.size());
        int n_reg = n_in + n_const + n_out + n_scratch;
        if (n_scratch < 0 || n_sums < 0 || n_reg > FUSED_MAX_REGS)
            bad("needs " + std::to_string(n_reg) + " registers; at most " + std::to_string(FUSED_MAX_REGS));
        std::vector<FInstr> prog(std::size_t(code.shape(0)));
        auto c = code.unchecked<2>();
        for (py::ssize_t i = 0; i < code.shape(0); ++i) prog[std::size_t(i)] = {c(i, 0), c(i, 1), c(i, 2), c(i, 3)};
        check_code(prog, n_reg, n_in + n_const, n_sums);

        std::vector<const void*> in_ptr;
        std::vector<void*> out_ptr;
        for (auto& a : ins) in_ptr.push_back(a.data());
        for (auto& a : outs) out_ptr.push_back(a.mutable_data());
        FusedProgram p{prog.data(), int(prog.size()), n_in, n_const, n_out, n_scratch, n_sums,
                       in_ptr.data(), in_size.data(), in_stretch.data(), out_ptr.data(), consts.data(), block};
        if (block < 0 || block > FUSED_BLOCK) bad("a block has 1 to " + std::to_string(FUSED_BLOCK) + " elements");
        if (block == 0) p.block = fused_block(p, i64(ref.size()), i64(ref.itemsize()));
        std::vector<double> sums(std::size_t(n_sums), 0.0);
        if (is_f32(ref)) run_t<float>(p, i64(ref.size()), sums);
        else run_t<double>(p, i64(ref.size()), sums);
        return py::array_t<double>(py::ssize_t(sums.size()), sums.data());
    }, py::arg("code"), py::arg("inputs"), py::arg("consts"), py::arg("outputs"), py::arg("n_scratch"),
    py::arg("n_sums"), py::arg("stretch") = std::vector<i64>(), py::arg("block") = 0,
    "Run a fused elementwise program over contiguous float arrays (the outputs the size of the largest input,\n"
    "smaller inputs broadcast: element e reads x[(e // stretch) % x.size]); returns the sums (float64).\n"
    "code rows are (op, dst, a, b) over registers numbered inputs, consts, outputs, scratch.\n"
    "block: elements per block (0: the program's own choice); a sum's bits depend on it.");
}

}  // namespace tc
