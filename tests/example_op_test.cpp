// The extension point: an op defined outside the library (examples/softplus.h) records and gradchecks.
#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
