// Uses the softplus op defined in softplus.h, and checks its gradient the way the test suite does.
#include <cstdio>

#include "examples/softplus.h"

int main() {
  const mt::Tensor points = mt::Tensor::from_vector(std::vector<double>{-30, -1, 0, 1, 30}, {5});
  const mt::Var x(points, true);
  const mt::Var y = example::softplus(x);
  mt::sum(y).backward();
  for (int64_t i = 0; i < points.numel(); ++i)
    std::printf("softplus(%5.1f) = %.6f   d/dx = %.6f\n", points.at({i}), y.value().at({i}), x.grad().at({i}));
  const mt::GradcheckResult check =
      mt::gradcheck([](const std::vector<mt::Var>& v) { return example::softplus(v[0]); }, {points.clone()});
  std::printf("gradcheck: %s\n", check.ok ? "passed" : check.message.c_str());
  return check.ok ? 0 : 1;
}
