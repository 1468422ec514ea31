// The extension point: ops defined outside the library (examples/softplus.h, examples/mish.h) record and
// gradcheck.
#include <gtest/gtest.h>

#include <cmath>

#include "examples/mish.h"
#include "examples/softplus.h"
#include "tensor/random.h"

namespace {

TEST(ExampleOp, SoftplusForwardValues) {
  const mt::Var x(mt::Tensor::from_vector(std::vector<double>{-800, 0, 2, 800}, {4}));
  const std::vector<double> y = example::softplus(x).value().to_vector();
  EXPECT_DOUBLE_EQ(y[0], 0);
  EXPECT_DOUBLE_EQ(y[1], std::log(2.0));
  EXPECT_NEAR(y[2], std::log1p(std::exp(2.0)), 1e-15);
  EXPECT_DOUBLE_EQ(y[3], 800);
}

TEST(ExampleOp, SoftplusPassesGradcheckIncludingNonContiguousInput) {
  mt::Generator gen(4);
  const mt::Tensor x = mt::Tensor::normal({4, 3}, 0, 3, gen, mt::DType::Float64);
  auto f = [](const std::vector<mt::Var>& v) { return example::softplus(v[0]); };
  for (const mt::Tensor& input : {x, x.t()}) {
    const mt::GradcheckResult result = mt::gradcheck(f, {input});
    EXPECT_TRUE(result.ok) << result.message;
  }
  const mt::Var v(x, true);
  EXPECT_STREQ(example::softplus(v).op(), "softplus");
}

// PyTorch 1.13's torch.nn.functional.mish and its gradient at the same points, in float64.
TEST(ExampleOp, MishWithTheElementwiseHelperMatchesPyTorch) {
  const mt::Var x(mt::Tensor::from_vector({-30.0, -1.0, 0.0, 0.5, 3.0, 30.0}, {6}), true);
  const mt::Var y = example::mish(x);
  mt::sum(y).backward();
  const std::vector<double> want_y{-2.807286890651921e-12, -0.30340146137410895, 0.0, 0.3752452113048951,
                                   2.9865350049679575, 30.0};
  const std::vector<double> want_grad{-2.713710660963392e-12, 0.059216755877395014, 0.6, 0.8864243753577272,
                                      1.0211069109294435, 1.0};
  for (size_t i = 0; i < want_y.size(); ++i) {
    EXPECT_NEAR(y.value().to_vector()[i], want_y[i], 1e-15) << i;
    EXPECT_NEAR(x.grad().to_vector()[i], want_grad[i], 1e-15) << i;
  }
  mt::Generator gen(5);
  const mt::Tensor v = mt::Tensor::normal({4, 3}, 0, 2, gen, mt::DType::Float64);
  auto f = [](const std::vector<mt::Var>& in) { return example::mish(in[0]); };
  for (const mt::Tensor& input : {v, v.t()}) {
    const mt::GradcheckResult result = mt::gradcheck(f, {input});
    EXPECT_TRUE(result.ok) << result.message;
  }
  EXPECT_EQ(example::mish(mt::Var(mt::Tensor::zeros({2}))).dtype(), mt::DType::Float32) << "float32 too";
}

}  // namespace
