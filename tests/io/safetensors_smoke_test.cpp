#include "fixture.hpp"
TEST(Smoke, Loads) {
  auto f = eigenformer::SafeTensorsFile::open(eigenformer::testing::data_path("attention/cases.safetensors"));
  auto t = f->tensor<float>("fn.x");
  EXPECT_TRUE(t.is_view());
  auto d = f->tensor<double>("fn.x");
  EXPECT_FALSE(d.is_view());
  EXPECT_EQ(t.matrix().rows(), 3);
  EXPECT_NEAR(t.matrix()(1,2), d.matrix()(1,2), 0);
  auto m = f->tensor<std::uint8_t>("mha_self.key_padding_mask");
  std::cout << m.matrix().cast<int>() << "\n";
}
