// Engine inspection: every layer with its kind, chosen kernel, inputs and outputs, as text and JSON.
#include <nlohmann/json.hpp>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

TEST(Inspector, ListsLayersKernelsAndIO) {
  const std::vector<uint8_t> plan = buildSamplePlan();
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.data(), plan.size());
  ASSERT_TRUE(engine.isOk()) << engine.status().toString();
  auto inspector = engine.value()->createEngineInspector();
  ASSERT_EQ(inspector->getNbLayers(), engine.value()->getNbLayers());
  bool sawConv = false;
  for (int32_t i = 0; i < inspector->getNbLayers(); ++i) {
    const LayerDescription d = inspector->getLayerInformation(i);
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.kernel.empty()) << d.name;
    EXPECT_FALSE(d.outputs.empty()) << d.name;
    if (d.type == "Convolution") {
      sawConv = true;
      EXPECT_NE(d.inputs[0].find("image:float32[-1,2,6,6]"), std::string::npos) << d.inputs[0];
      EXPECT_NE(d.kernel.find("cpu_conv"), std::string::npos) << d.kernel;
    }
  }
  EXPECT_TRUE(sawConv);
  const std::string text = inspector->getEngineInformationText();
  EXPECT_NE(text.find("input  image: float32[-1,2,6,6]"), std::string::npos) << text;
  EXPECT_NE(text.find("output probs"), std::string::npos) << text;
  EXPECT_NE(text.find("min[1,2,6,6] opt[2,2,6,6] max[4,2,6,6]"), std::string::npos) << text;
  const nlohmann::json doc = nlohmann::json::parse(inspector->getEngineInformationJson());
  EXPECT_EQ(doc["backend"], "cpu");
  EXPECT_EQ(doc["layers"].size(), static_cast<size_t>(inspector->getNbLayers()));
  EXPECT_EQ(doc["io"][0]["name"], "image");
  EXPECT_TRUE(inspector->getLayerInformation(-1).name.empty());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
