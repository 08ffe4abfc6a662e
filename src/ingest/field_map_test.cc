#include "ingest/field_map.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace sawmill::ingest {
namespace {

Record WithFields(std::vector<std::pair<std::string, std::string>> fields) {
  Record record;
  record.fields = std::move(fields);
  return record;
}

TEST(FieldMap, EcsNamesWinAndTheMappedFieldsAreRemoved) {
  Record r = WithFields({{"user_id", "plain"},
                         {"user.id", "ecs"},
                         {"app", "billing"},
                         {"host", "h1"},
                         {"log_level", "warn"},
                         {"shop", "s1"}});
  ApplyFieldMap(&r);
  EXPECT_EQ(r.user_id, "ecs");
  EXPECT_EQ(r.service, "billing");
  EXPECT_EQ(r.host, "h1");
  EXPECT_EQ(r.level, Level::kWarn);
  // The losing user_id stays a field: nothing the client sent is dropped.
  EXPECT_EQ(r.fields, (std::vector<std::pair<std::string, std::string>>{{"user_id", "plain"},
                                                                        {"shop", "s1"}}));
}

TEST(FieldMap, ColumnsAlreadySetAndEmptyValuesAreLeftAlone) {
  Record r = WithFields({{"service", "from-field"}, {"trace_id", ""}, {"span_id", "s1"}});
  r.service = "from-protocol";
  r.level = Level::kError;
  ApplyFieldMap(&r);
  EXPECT_EQ(r.service, "from-protocol");
  EXPECT_EQ(r.trace_id, "");
  EXPECT_EQ(r.span_id, "s1");
  EXPECT_NE(r.FindField("service"), nullptr);
  EXPECT_NE(r.FindField("trace_id"), nullptr);
}

TEST(FieldMap, AValueThatIsNotALevelStaysAFieldAndLeavesTheLevelUnknown) {
  Record r = WithFields({{"level", "loud"}, {"severity", "error"}});
  ApplyFieldMap(&r);
  EXPECT_EQ(r.level, Level::kUnknown);
  EXPECT_EQ(r.fields.size(), 2u);
}

TEST(FieldMap, LokiKeepsLabelsLetsMetadataWinAndKnowsPrometheusLabelNames) {
  Record r = WithFields({{"job", "varlogs"},
                         {"instance", "node-7"},
                         {"user_id", "label-user"},
                         {"user_id", "metadata-user"}});
  FieldMapOptions loki;
  loki.labels = true;
  loki.keep_fields = true;
  loki.prefer_last = true;
  ApplyFieldMap(&r, loki);
  EXPECT_EQ(r.service, "varlogs");
  EXPECT_EQ(r.host, "node-7");
  EXPECT_EQ(r.user_id, "metadata-user");
  EXPECT_EQ(r.fields.size(), 4u);

  // As JSON keys, job and instance mean other things.
  Record json = WithFields({{"job", "nightly-backup"}, {"instance", "3"}});
  ApplyFieldMap(&json);
  EXPECT_EQ(json.service, "");
  EXPECT_EQ(json.host, "");
  EXPECT_EQ(json.fields.size(), 2u);
}

TEST(FieldMap, NamesAreListedOnceInPrecedenceOrder) {
  EXPECT_EQ(ColumnNames(Column::kUserId),
            (std::vector<std::string_view>{"user.id", "user_id", "userId", "enduser.id"}));
  EXPECT_EQ(ColumnOfName("@timestamp"), Column::kTimestamp);
  EXPECT_EQ(ColumnOfName("job"), std::nullopt);
  EXPECT_EQ(ColumnOfName("job", /*labels=*/true), Column::kService);
  EXPECT_EQ(ColumnOfName("shop"), std::nullopt);
}

// Every name of the table is found, and nothing that is not exactly a name: prefixes, names with
// one more byte (a NUL too), other cases, and keys longer than any name.
TEST(FieldMap, OnlyExactNamesAreFound) {
  size_t names = 0;
  for (Column column : {Column::kTimestamp, Column::kMessage, Column::kLevel, Column::kService,
                        Column::kHost, Column::kTraceId, Column::kSpanId, Column::kUserId}) {
    for (std::string_view name : ColumnNames(column, /*labels=*/true)) {
      ++names;
      EXPECT_EQ(ColumnOfName(name, true), column) << name;
      std::string longer(name);
      longer.push_back('\0');
      EXPECT_EQ(ColumnOfName(longer, true), std::nullopt) << name;
      longer.back() = 's';
      EXPECT_EQ(ColumnOfName(longer, true), std::nullopt) << name;
      EXPECT_EQ(ColumnOfName(name.substr(0, name.size() - 1), true), std::nullopt) << name;
      std::string upper(name);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (upper != name) {
        EXPECT_EQ(ColumnOfName(upper, true), std::nullopt) << name;
      }
    }
  }
  EXPECT_EQ(names, 40u);
  EXPECT_EQ(ColumnOfName(""), std::nullopt);
  EXPECT_EQ(ColumnOfName("service.name.x.y"), std::nullopt);  // 16 bytes
  EXPECT_EQ(ColumnOfName(std::string(300, 'a')), std::nullopt);
}

}  // namespace
}  // namespace sawmill::ingest
