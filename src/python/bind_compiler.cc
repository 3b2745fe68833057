// The compiler core from Python: IR graph building (the frontend translates torch.fx graphs), lowering,
// partitioning, segment conversion, and Python converters in the C++ registry.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "conversion/conversion_ctx.h"
#include "conversion/converter.h"
#include "conversion/registry.h"
#include "ir/graph.h"
#include "kiln/kiln.h"
#include "lowering/pass_manager.h"
#include "partitioning/partitioner.h"
#include "python/bindings.h"

namespace kiln {
namespace python {
namespace {

using conversion::CompilationSettings;
using conversion::ConversionCtx;
using conversion::ConverterArg;

// Python values -> IR arguments: Values stay values; None/bool/int/float/str become constants; lists become
// lists (of constants when they hold no value).
ir::Arg toArg(const py::handle& obj);

ir::Constant toConstant(const py::handle& obj) {
  if (obj.is_none()) return ir::Constant::none();
  if (py::isinstance<py::bool_>(obj)) return ir::Constant::fromBool(obj.cast<bool>());
  if (py::isinstance<py::int_>(obj)) return ir::Constant::fromInt(obj.cast<int64_t>());
  if (py::isinstance<py::float_>(obj)) return ir::Constant::fromDouble(obj.cast<double>());
  if (py::isinstance<py::str>(obj)) return ir::Constant::fromString(obj.cast<std::string>());
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    std::vector<ir::Constant> items;
    for (const py::handle& item : obj) items.push_back(toConstant(item));
    return ir::Constant::fromList(std::move(items));
  }
  throw py::type_error("cannot pass " + std::string(py::str(py::type::of(obj))) + " to the Kiln IR");
}

bool holdsValue(const py::handle& obj) {
  if (py::isinstance<ir::Value>(obj)) return true;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    for (const py::handle& item : obj) {
      if (holdsValue(item)) return true;
    }
  }
  return false;
}

ir::Arg toArg(const py::handle& obj) {
  if (py::isinstance<ir::Value>(obj)) return ir::Arg::of(obj.cast<ir::Value*>());
  if ((py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) && holdsValue(obj)) {
    std::vector<ir::Arg> items;
    for (const py::handle& item : obj) items.push_back(toArg(item));
    return ir::Arg::listOf(std::move(items));
  }
  return ir::Arg::of(toConstant(obj));
}

// Shape specs from Python: each dim an int (static) or a (symbol, min, max) tuple.
ir::TensorMeta toMeta(DataType dtype, const py::list& shape) {
  ir::TensorMeta meta;
  meta.dtype = dtype;
  for (const py::handle& dim : shape) {
    ir::SymDim d;
    if (py::isinstance<py::int_>(dim)) {
      d.extent = dim.cast<int64_t>();
      d.min = d.max = d.extent;
    } else {
      auto t = dim.cast<std::tuple<std::string, int64_t, int64_t>>();
      d.symbol = std::get<0>(t);
      d.min = std::get<1>(t);
      d.max = std::get<2>(t);
    }
    meta.shape.push_back(d);
  }
  return meta;
}

py::object constantToPython(const ir::Constant& c) {
  switch (c.kind()) {
    case ir::Constant::Kind::kNONE: return py::none();
    case ir::Constant::Kind::kBOOL: return py::bool_(c.toBool().value());
    case ir::Constant::Kind::kINT: return py::int_(c.toInt().value());
    case ir::Constant::Kind::kDOUBLE: return py::float_(c.toDouble().value());
    case ir::Constant::Kind::kSTRING: return py::str(c.toString().value());
    case ir::Constant::Kind::kLIST: {
      py::list items;
      for (const ir::Constant& item : c.items()) items.append(constantToPython(item));
      return std::move(items);
    }
  }
  return py::none();
}

// What a Python converter sees as `ctx`: the network, and tensors/constants of IR values by name.
struct PyConversionContext {
  ConversionCtx* ctx = nullptr;
  const ir::Node* node = nullptr;  // the node being converted: its arguments are what the converter may read

  NetworkDefinition* net() const { return ctx->net; }

  static const ir::Value* findIn(const ir::Arg& arg, const std::string& producer, int32_t index) {
    if (arg.isValue() && arg.value->node()->name() == producer && arg.value->outputIndex() == index) return arg.value;
    for (const ir::Arg& item : arg.list) {
      if (const ir::Value* v = findIn(item, producer, index)) return v;
    }
    return nullptr;
  }

  py::object valueOf(const std::string& producer, int32_t index) const {
    const ir::Value* value = nullptr;
    for (const ir::Arg& arg : node->args()) {
      if ((value = findIn(arg, producer, index)) != nullptr) break;
    }
    if (value == nullptr) {
      throw py::key_error("'" + producer + "'[" + std::to_string(index) + "] is not an argument of node '" +
                          node->name() + "'");
    }
    if (ITensor* t = ctx->findTensor(value)) return py::cast(t, py::return_value_policy::reference);
    if (const ir::Constant* c = ctx->findConstant(value)) return constantToPython(*c);
    throw py::key_error("IR value '" + value->name() + "' has no tensor yet");
  }

  py::object argToPython(const ir::Arg& arg) const {
    if (arg.isValue()) {
      if (ITensor* t = ctx->findTensor(arg.value)) return py::cast(t, py::return_value_policy::reference);
      if (const ir::Constant* c = ctx->findConstant(arg.value)) return constantToPython(*c);
      throw py::key_error("IR value '" + arg.value->name() + "' has no tensor yet");
    }
    if (arg.isList()) {
      py::list items;
      for (const ir::Arg& item : arg.list) items.append(argToPython(item));
      return std::move(items);
    }
    return constantToPython(arg.constant);
  }

  // The node's arguments in schema order (defaults filled): positional ones, and keyword-only ones by name.
  py::tuple argsAndKwargs() const {
    py::list args;
    py::dict kwargs;
    const ir::FunctionSchema* schema = node->schema();
    for (size_t i = 0; i < node->args().size(); ++i) {
      py::object value = argToPython(node->args()[i]);
      if (schema != nullptr && i < schema->arguments.size() && schema->arguments[i].kwargOnly) {
        kwargs[py::str(schema->arguments[i].name)] = value;
      } else {
        args.append(value);
      }
    }
    return py::make_tuple(py::tuple(args), kwargs);
  }
};

// Python callables live in the C++ registry; they are released before the interpreter shuts down
// (torch_kiln registers clear_python_converters with atexit).
struct PythonCallables {
  std::vector<std::shared_ptr<py::object>> objects;
};
PythonCallables& pythonCallables() {
  static auto* callables = new PythonCallables();  // never destroyed after Python is gone
  return *callables;
}

void registerPythonConverter(const std::string& key, py::function converter, py::object validator, int priority,
                             bool supportsDynamicShapes, bool requiresOutputAllocator, bool enabled) {
  auto fn = std::make_shared<py::object>(std::move(converter));
  std::shared_ptr<py::object> check;
  if (!validator.is_none()) check = std::make_shared<py::object>(std::move(validator));
  pythonCallables().objects.push_back(fn);
  if (check) pythonCallables().objects.push_back(check);
  conversion::ConverterCandidate candidate;
  candidate.origin = "Python";
  candidate.priority = priority > 0 ? conversion::ConverterPriority::kHIGH : conversion::ConverterPriority::kSTANDARD;
  candidate.supportsDynamicShapes = supportsDynamicShapes;
  candidate.requiresOutputAllocator = requiresOutputAllocator;
  candidate.enabled = enabled;
  candidate.converter = [fn](ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>&) -> Status {
    py::gil_scoped_acquire gil;
    try {
      PyConversionContext pyCtx{&ctx, &node};
      py::object result = (*fn)(py::cast(pyCtx), node.name());
      std::vector<ITensor*> outputs;
      if (py::isinstance<ITensor>(result)) {
        outputs.push_back(result.cast<ITensor*>());
      } else {
        for (const py::handle& item : result) outputs.push_back(item.cast<ITensor*>());
      }
      if (outputs.size() > node.outputs().size()) {
        return invalidArgument("the Python converter returned " + std::to_string(outputs.size()) + " tensors for " +
                               std::to_string(node.outputs().size()) + " outputs");
      }
      for (size_t i = 0; i < outputs.size(); ++i) ctx.associateValueAndTensor(node.outputs()[i], outputs[i]);
      return Status::ok();
    } catch (const py::error_already_set& e) {
      return invalidArgument(std::string("the Python converter raised: ") + e.what());
    } catch (const std::exception& e) {
      return invalidArgument(std::string("the Python converter failed: ") + e.what());
    }
  };
  if (check) {
    candidate.validator = [check](const ir::Node& node, const CompilationSettings&) -> bool {
      py::gil_scoped_acquire gil;
      try {
        return (*check)(node.name()).cast<bool>();
      } catch (const std::exception&) {
        return false;  // a validator that raises refuses the node (it then runs in PyTorch)
      }
    };
  }
  conversion::ConverterRegistry::global().add(key, std::move(candidate));
}

}  // namespace

void bindCompiler(py::module_& m) {
  py::class_<CompilationSettings>(m, "CompilationSettings")
      .def(py::init<>())
      .def_readwrite("min_block_size", &CompilationSettings::minBlockSize)
      .def_readwrite("torch_executed_ops", &CompilationSettings::torchExecutedOps)
      .def_readwrite("require_full_compilation", &CompilationSettings::requireFullCompilation)
      .def_readwrite("enabled_precisions", &CompilationSettings::enabledPrecisions)
      .def_readwrite("backend", &CompilationSettings::backend)
      .def_readwrite("workspace_size", &CompilationSettings::workspaceSize)
      .def_readwrite("optimization_level", &CompilationSettings::optimizationLevel)
      .def_readwrite("debug", &CompilationSettings::debug)
      .def_readwrite("timing_cache_path", &CompilationSettings::timingCachePath);

  py::class_<ir::Value, std::unique_ptr<ir::Value, py::nodelete>>(m, "Value")
      .def_property_readonly("name", &ir::Value::name)
      .def_property_readonly("producer", [](const ir::Value& v) { return v.node()->name(); })
      .def_property_readonly("index", &ir::Value::outputIndex);

  m.attr("LIST_GET_SCHEMA") = ir::kLIST_GET_SCHEMA;

  py::class_<ir::Graph>(m, "Graph")
      .def(py::init<>())
      .def(
          "add_placeholder",
          [](ir::Graph& g, const std::string& name, DataType dtype, const py::list& shape) {
            return g.addPlaceholder(name, toMeta(dtype, shape));
          },
          py::return_value_policy::reference)
      .def(
          "add_get_attr",
          [](ir::Graph& g, const std::string& name, DataType dtype, const std::vector<int64_t>& shape, py::bytes data) {
            auto tensor = std::make_shared<HostTensor>(dtype, toDims(shape));
            const std::string bytes = data;
            if (bytes.size() != tensor->bytes.size()) throw py::value_error("get_attr '" + name + "': byte size mismatch");
            std::copy(bytes.begin(), bytes.end(), tensor->bytes.begin());
            return g.addGetAttr(name, tensor);
          },
          py::return_value_policy::reference)
      .def(
          "add_call",
          [](ir::Graph& g, const std::string& schema, const std::string& name, const py::list& args,
             const py::dict& kwargs, const std::vector<std::optional<std::pair<DataType, py::list>>>& outputMetas) {
            std::vector<ir::Arg> positional;
            for (const py::handle& a : args) positional.push_back(toArg(a));
            std::map<std::string, ir::Arg> keywords;
            for (const auto& item : kwargs) keywords[item.first.cast<std::string>()] = toArg(item.second);
            std::vector<std::optional<ir::TensorMeta>> metas;
            for (const auto& meta : outputMetas) {
              if (meta) {
                metas.emplace_back(toMeta(meta->first, meta->second));
              } else {
                metas.emplace_back(std::nullopt);
              }
            }
            ir::Node* node = unwrap(g.addCall(schema, name, std::move(positional), std::move(keywords), metas));
            std::vector<ir::Value*> outputs(node->outputs().begin(), node->outputs().end());
            return outputs;
          },
          py::return_value_policy::reference)
      .def("set_outputs",
           [](ir::Graph& g, const py::list& outputs) {
             std::vector<ir::Arg> args;
             for (const py::handle& o : outputs) args.push_back(toArg(o));
             g.setOutputs(std::move(args));
           })
      // The graph as Python data, for rebuilding a torch.fx graph after lowering and partitioning:
      // [(op, name, target, args, output metas)], args with values as ("%value", producer, index).
      .def("describe",
           [](const ir::Graph& g) {
             std::function<py::object(const ir::Arg&)> argToPy = [&](const ir::Arg& a) -> py::object {
               if (a.isValue()) return py::make_tuple("%value", a.value->node()->name(), a.value->outputIndex());
               if (a.isList()) {
                 py::list items;
                 for (const ir::Arg& item : a.list) items.append(argToPy(item));
                 return std::move(items);
               }
               return constantToPython(a.constant);
             };
             py::list nodes;
             for (const auto& n : g.nodes()) {
               py::list args;
               for (const ir::Arg& a : n->args()) args.append(argToPy(a));
               py::list metas;  // per output: None, or (dtype, [extent or symbol expression])
               for (const ir::Value* v : n->outputs()) {
                 if (!v->meta()) {
                   metas.append(py::none());
                   continue;
                 }
                 py::list dims;
                 for (const ir::SymDim& d : v->meta()->shape) {
                   if (d.isStatic()) {
                     dims.append(d.extent);
                   } else {
                     dims.append(d.symbol);
                   }
                 }
                 metas.append(py::make_tuple(v->meta()->dtype, dims));
               }
               nodes.append(py::make_tuple(ir::nodeOpName(n->op()), n->name(), n->target(), args, metas));
             }
             return nodes;
           })
      .def("get_attr_value",
           [](const ir::Graph& g, const std::string& name) {
             const ir::Node* n = g.findNode(name);
             if (n == nullptr || !n->tensorValue()) throw py::key_error("no get_attr node '" + name + "'");
             const HostTensor& t = *n->tensorValue();
             std::vector<int64_t> shape(t.dims.d, t.dims.d + t.dims.nbDims);
             return py::make_tuple(t.type, shape,
                                   py::bytes(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
           })
      .def("print", &ir::Graph::print)
      .def("verify", [](const ir::Graph& g) { check(g.verify()); })
      .def("node_names", [](const ir::Graph& g) {
        std::vector<std::string> names;
        for (const auto& n : g.nodes()) names.push_back(n->name());
        return names;
      });

  m.def(
      "lower", [](ir::Graph& g, bool verify) { check(lowering::defaultLoweringPasses().run(g, verify)); },
      py::arg("graph"), py::arg("verify") = true);

  // Partition: per segment (id, runs_in_kiln, node names, input value (producer, index), outputs), and the report.
  m.def("partition", [](const ir::Graph& g, const CompilationSettings& settings) {
    partitioning::PartitionResult result =
        unwrap(partitioning::partition(g, conversion::ConverterRegistry::global(), settings));
    py::list segments;
    for (const partitioning::Segment& s : result.segments) {
      std::vector<std::string> nodes;
      for (const ir::Node* n : s.nodes) nodes.push_back(n->name());
      std::vector<std::pair<std::string, int32_t>> inputs, outputs;
      for (const ir::Value* v : s.inputs) inputs.emplace_back(v->node()->name(), v->outputIndex());
      for (const ir::Value* v : s.outputs) outputs.emplace_back(v->node()->name(), v->outputIndex());
      segments.append(py::make_tuple(s.id, s.runsInKiln, nodes, inputs, outputs));
    }
    py::dict reasons;
    for (const partitioning::NodeDecision& d : result.decisions) {
      reasons[py::str(d.node->name())] = py::make_tuple(d.segment, conversion::unsupportedReason(d.reason));
    }
    return py::make_tuple(segments, reasons, result.report());
  });

  // Converts the named nodes into a plan; inputs/outputs as (producer node name, output index).
  m.def("convert_segment",
        [](const ir::Graph& g, const std::vector<std::string>& nodeNames,
           const std::vector<std::pair<std::string, int32_t>>& inputs,
           const std::vector<std::pair<std::string, int32_t>>& outputs,
           const std::vector<std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>>>& ranges,
           const CompilationSettings& settings) {
          conversion::SegmentSpec spec;
          auto valueOf = [&](const std::pair<std::string, int32_t>& ref) {
            const ir::Node* node = g.findNode(ref.first);
            if (node == nullptr || node->output(static_cast<size_t>(ref.second)) == nullptr) {
              throw py::key_error("no IR value " + ref.first + "[" + std::to_string(ref.second) + "]");
            }
            return static_cast<const ir::Value*>(node->output(static_cast<size_t>(ref.second)));
          };
          for (const std::string& n : nodeNames) {
            const ir::Node* node = g.findNode(n);
            if (node == nullptr) throw py::key_error("no IR node " + n);
            spec.nodes.push_back(node);
          }
          for (const auto& ref : inputs) spec.inputs.push_back(valueOf(ref));
          for (const auto& ref : outputs) spec.outputs.push_back(valueOf(ref));
          for (const auto& r : ranges) spec.inputRanges.push_back({toDims(std::get<0>(r)), toDims(std::get<1>(r)), toDims(std::get<2>(r))});
          conversion::ConvertedSegment converted = unwrap(conversion::convertSegment(spec, settings));
          const BuildReport& r = converted.buildReport;
          py::dict report;
          report["build_seconds"] = r.buildSeconds;
          report["layers_before"] = r.layersBefore;
          report["layers_after"] = r.layersAfter;
          report["constants_folded"] = r.constantsFolded;
          report["layers_fused"] = r.layersFused;
          report["layers_channels_last"] = r.layersChannelsLast;
          report["layout_transposes"] = r.layoutTransposes;
          report["attention_masks_removed"] = r.attentionMasksRemoved;
          report["tactics_timed"] = r.tacticsTimed;
          report["timing_cache_hits"] = r.timingCacheHits;
          report["planned_activation_bytes"] = r.plannedActivationBytes;
          report["total_activation_bytes"] = r.totalActivationBytes;
          return py::make_tuple(py::bytes(static_cast<const char*>(converted.plan->data()), converted.plan->size()),
                                converted.inputNames, converted.outputNames, report);
        });

  py::class_<PyConversionContext>(m, "ConversionContext")
      .def_property_readonly("net", &PyConversionContext::net, py::return_value_policy::reference)
      .def("value", &PyConversionContext::valueOf, py::arg("producer"), py::arg("index") = 0)
      .def("args_and_kwargs", &PyConversionContext::argsAndKwargs)
      .def_property_readonly("node_name", [](const PyConversionContext& c) { return c.node->name(); })
      .def_property_readonly("target", [](const PyConversionContext& c) { return c.node->target(); });

  m.def("register_converter", &registerPythonConverter, py::arg("key"), py::arg("converter"),
        py::arg("validator") = py::none(), py::arg("priority") = 0, py::arg("supports_dynamic_shapes") = false,
        py::arg("requires_output_allocator") = false, py::arg("enabled") = true);
  m.def("clear_python_converters", [] {
    auto& registry = conversion::ConverterRegistry::global();
    for (const std::string& key : registry.keys()) registry.removeFrom(key, "Python");
    pythonCallables().objects.clear();
  });
  m.def("supported_ops", [] {
    py::list rows;
    const auto& registry = conversion::ConverterRegistry::global();
    for (const std::string& key : registry.keys()) {
      for (const conversion::ConverterCandidate& c : *registry.candidates(key)) {
        py::dict row;
        row["target"] = key;
        row["has_validator"] = static_cast<bool>(c.validator);
        row["supports_dynamic_shapes"] = c.supportsDynamicShapes;
        row["requires_output_allocator"] = c.requiresOutputAllocator;
        row["priority"] = c.priority == conversion::ConverterPriority::kHIGH ? "HIGH" : "STANDARD";
        row["origin"] = c.origin;
        row["enabled"] = c.enabled;
        row["evaluator"] = c.isEvaluator;
        rows.append(row);
      }
    }
    return rows;
  });
}

}  // namespace python
}  // namespace kiln
