// The API as a PyTorch user writes it: braced lists where spans are taken, scalars and constant tensors on
// either side of an operator, printing values, the elementwise helper.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/autograd.h"

namespace mt {
namespace {

template <class T>
std::string printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

TEST(Api, BracedListsWhereSpansAreTaken) {
  const Tensor t = Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {1, 2, 3});
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(Tensor::from_vector({1.0, 2.0}, {2}).dtype(), DType::Float64);
  EXPECT_EQ(sum(t, {2}).to_vector(), (std::vector<double>{6, 15}));
  EXPECT_EQ(mean(t, {1, 2}, true).shape(), Shape({1, 1, 1}));
  const Var x(t, true);
  EXPECT_EQ(sum(x, {1}).shape(), Shape({1, 3}));
  EXPECT_EQ(mean(x, {0, 2}).value().to_vector(), (std::vector<double>{2, 5}));
  EXPECT_EQ(permute(x, {2, 0, 1}).shape(), Shape({3, 1, 2}));
  EXPECT_EQ(cat({x, x}, 0).shape(), Shape({2, 2, 3}));
  EXPECT_EQ(stack({x, x}, 0).shape(), Shape({2, 1, 2, 3}));
  // [[1, 2, 3], [4, 5, 6]]: each row's variance is 1 (unbiased) or 2/3 (biased), its std the square root.
  EXPECT_EQ(var(x, {2}).value().to_vector(), (std::vector<double>{1, 1}));
  EXPECT_NEAR(var(x, {2}, Correction{0}).value().to_vector()[0], 2.0 / 3.0, 1e-6);
  EXPECT_EQ(std(x, {1, 2}, false, true).shape(), Shape({1, 1, 1}));
  EXPECT_NEAR(std(x, {2}, Correction{0}).value().to_vector()[1], std::sqrt(2.0 / 3.0), 1e-6);
  EXPECT_NEAR(logsumexp(x, {2}).value().to_vector()[0], std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), 1e-5);
}

TEST(Api, ScalarsAndConstantTensorsOnEitherSide) {
  const Var x(Tensor::from_vector({1.0, 2.0}, {2}), true);
  const Tensor c = Tensor::from_vector({10.0, 20.0}, {2});
  EXPECT_EQ((1.0 - x).value().to_vector(), (std::vector<double>{0, -1}));
  EXPECT_EQ((2.0 / x).value().to_vector(), (std::vector<double>{2, 1}));
  EXPECT_EQ((3.0 + x).value().to_vector(), (std::vector<double>{4, 5}));
  EXPECT_EQ((x + c).value().to_vector(), (std::vector<double>{11, 22}));
  EXPECT_EQ((c - x).value().to_vector(), (std::vector<double>{9, 18}));
  EXPECT_EQ((c / x).value().to_vector(), (std::vector<double>{10, 10}));
  sum(2.0 / x + x * c).backward();  // d/dx = -2 / x^2 + c
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{8, 19.5}));
  EXPECT_EQ((1.0 - c).to_vector(), (std::vector<double>{-9, -19}));
  EXPECT_EQ((4.0 / c).to_vector(), (std::vector<double>{0.4, 0.2}));
}

// The strings are PyTorch 1.13's, with "float64" for "torch.float64".
TEST(Api, PrintsValuesAsPyTorch) {
  EXPECT_EQ(printed(Tensor::from_vector({1.0, 2.5, 3.0, 4.0}, {2, 2})),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], dtype=float64)");
  EXPECT_EQ(printed(Tensor::from_vector({1.f, 2.f}, {2})), "tensor([1., 2.])");
  EXPECT_EQ(printed(Tensor::scalar(3)), "tensor(3.)");
  EXPECT_EQ(printed(Tensor::zeros({2, 0})), "tensor([], size=[2, 0])");
  EXPECT_EQ(printed(Tensor::from_vector({1e-5f, 1.f}, {2})), "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(printed(Tensor::from_vector({NAN, 1.5f, -INFINITY}, {3})), "tensor([   nan, 1.5000,   -inf])");
  EXPECT_EQ(printed(Tensor::arange(0, 2000)),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])");
  EXPECT_EQ(printed(Tensor::arange(0, 24).reshape({2, 3, 4}) / 7.0),
            "tensor([[[0.0000, 0.1429, 0.2857, 0.4286],\n"
            "         [0.5714, 0.7143, 0.8571, 1.0000],\n"
            "         [1.1429, 1.2857, 1.4286, 1.5714]],\n\n"
            "        [[1.7143, 1.8571, 2.0000, 2.1429],\n"
            "         [2.2857, 2.4286, 2.5714, 2.7143],\n"
            "         [2.8571, 3.0000, 3.1429, 3.2857]]])");
  EXPECT_EQ(printed(Tensor::arange(0, 30) / 7.0),
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
            "        3.8571, 4.0000, 4.1429])");
  const Var x(Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {2, 2}), true);
  EXPECT_EQ(printed(x), "tensor([[1., 2.],\n        [3., 4.]], dtype=float64, requires_grad=true)");
  EXPECT_EQ(printed(x * 2.0), "tensor([[2., 4.],\n        [6., 8.]], dtype=float64, grad_fn=mul_scalar)");
  EXPECT_EQ(printed(Var(Tensor::scalar(1))), "tensor(1.)");
}

TEST(Api, ElementwiseHelperOnAnyLayoutAndBothDtypes) {
  const Tensor x = Tensor::arange(0, 6, 1, DType::Float64).reshape({2, 3});
  const Tensor cube = elementwise("cube", x.t(), [](auto v) { return v * v * v; });
  EXPECT_EQ(cube.shape(), Shape({3, 2}));
  EXPECT_EQ(cube.to_vector(), (std::vector<double>{0, 27, 1, 64, 8, 125}));
  const Tensor row = Tensor::from_vector({10.f, 20.f, 30.f}, {3});
  const Tensor sums = elementwise("add", x.to(DType::Float32), row, [](auto a, auto b) { return a + b; });
  EXPECT_EQ(sums.dtype(), DType::Float32);
  EXPECT_EQ(sums.to_vector(), (std::vector<double>{10, 21, 32, 13, 24, 35}));
  EXPECT_THROW(elementwise("add", x, row, [](auto a, auto b) { return a + b; }), Error) << "dtypes differ";
}

}  // namespace
}  // namespace mt
