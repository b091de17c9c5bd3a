// Activations, softmax, LayerNorm, Linear and Embedding against the `fn` fixture case
// (F.gelu, F.silu, F.relu, F.softmax(-1), F.layer_norm(eps=1e-12)).
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/embedding.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/softmax.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
class FunctionalTest : public ::testing::Test {
 protected:
  const StateDict<T>& cases = testing::fixture<T>("attention/cases.safetensors");
  Matrix<T> x() const { return cases.at("fn.x").matrix(); }
  Matrix<T> activated(Activation activation) const {
    Matrix<T> out = x();
    apply_activation(activation, out);
    return out;
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(FunctionalTest, Scalars);

TYPED_TEST(FunctionalTest, ActivationsMatchPyTorch) {
  EXPECT_TRUE(
      all_close(this->activated(Activation::GELU), this->cases.at("fn.gelu_erf").matrix(), 1e-6));
  EXPECT_TRUE(all_close(this->activated(Activation::GELUTanh),
                        this->cases.at("fn.gelu_tanh").matrix(), 1e-6));
  EXPECT_TRUE(
      all_close(this->activated(Activation::SiLU), this->cases.at("fn.silu").matrix(), 1e-6));
  EXPECT_TRUE(all_close(this->activated(Activation::ReLU), this->cases.at("fn.relu").matrix(), 0));
}

TYPED_TEST(FunctionalTest, ActivationNamesFollowHuggingFace) {
  EXPECT_EQ(parse_activation("gelu"), Activation::GELU);
  EXPECT_EQ(parse_activation("gelu_new"), Activation::GELUTanh);
  EXPECT_EQ(parse_activation("gelu_pytorch_tanh"), Activation::GELUTanh);
  EXPECT_EQ(parse_activation("swish"), Activation::SiLU);
  EXPECT_THROW(parse_activation("mish"), InvalidArgument);
}

TYPED_TEST(FunctionalTest, SoftmaxMatchesPyTorchAndRowsSumToOne) {
  using T = TypeParam;
  Matrix<T> p = this->x();
  softmax_rows<T>(p);
  EXPECT_TRUE(all_close(p, this->cases.at("fn.softmax").matrix(), 1e-6));
  EXPECT_TRUE(all_close(p.rowwise().sum(), Vector<T>::Ones(p.rows()), 1e-6));
}

TYPED_TEST(FunctionalTest, SoftmaxIsStableForHugeLogits) {
  using T = TypeParam;
  Matrix<T> p(1, 3);
  p << T(1000), T(999), T(-1000);
  softmax_rows<T>(p);
  EXPECT_TRUE(p.allFinite());
  EXPECT_NEAR(p(0, 0), 1 / (1 + std::exp(-1.0)), 1e-6);
}

TYPED_TEST(FunctionalTest, LayerNormMatchesPyTorch) {
  using T = TypeParam;
  const LayerNorm<T> norm(this->cases.at("fn.ln_weight"), this->cases.at("fn.ln_bias"), T(1e-12));
  EXPECT_TRUE(all_close(norm.forward(this->x()), this->cases.at("fn.layer_norm").matrix(), 1e-5));
  EXPECT_THROW(norm.forward(Matrix<T>::Zero(2, 3)), ShapeError);
}

TYPED_TEST(FunctionalTest, LinearComputesXWTransposePlusBias) {
  using T = TypeParam;
  Matrix<T> w(2, 3);
  w << 1, 2, 3, 4, 5, 6;
  Vector<T> b(2);
  b << T(0.5), T(-1);
  Matrix<T> x(1, 3);
  x << 1, 0, -1;
  const Matrix<T> y = Linear<T>(w, b).forward(x);
  EXPECT_EQ(y(0, 0), T(1 - 3 + 0.5));
  EXPECT_EQ(y(0, 1), T(4 - 6 - 1));
  EXPECT_THROW(Linear<T>(w, b).forward(Matrix<T>::Zero(1, 2)), ShapeError);
  EXPECT_TRUE((Linear<T>(w, b).weight().array() == w.array()).all());  // kept only packed
  // Stacked outputs: the rows of the parts in order, one product.
  const Linear<T> stacked = stack_outputs<T>({Linear<T>(w, b), Linear<T>(2 * w, 2 * b)});
  ASSERT_EQ(stacked.out_features(), 4);
  EXPECT_TRUE((stacked.weight().bottomRows(2).array() == (2 * w).array()).all());
  const Matrix<T> both = stacked.forward(x);
  EXPECT_EQ(both(0, 3), T(2 * (4 - 6 - 1)));
}

TYPED_TEST(FunctionalTest, EmbeddingChecksBounds) {
  using T = TypeParam;
  const Embedding<T> embedding(Tensor<T>::from_matrix(this->x()), "fn.x");
  EXPECT_TRUE(all_close(embedding.lookup({2, 0}).row(0), this->x().row(2), 0));
  EXPECT_THROW(embedding.lookup({3}), InvalidArgument);
  EXPECT_THROW(embedding.lookup({-1}), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
