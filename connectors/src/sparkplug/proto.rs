//! Sparkplug B protobuf messages, hand-written with `prost` derives after Eclipse Tahu's `sparkplug_b.proto` (proto2, no protoc).
//!
//! Field numbers and types follow `sparkplug_b/sparkplug_b.proto` of Eclipse Tahu. The
//! `extension_value` members and `extensions 6 to max` ranges are left out: prost skips fields it
//! does not know, so a payload that uses them still decodes.

/// The top-level Sparkplug B payload of every NBIRTH/NDATA/NDEATH/DBIRTH/DDATA/DDEATH/NCMD/DCMD message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Payload {
    /// Milliseconds since the Unix epoch, UTC, when the message was built.
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    /// The metrics carried.
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// Sequence number 0-255, incremented per message of an edge node (absent in NDEATH).
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
    /// Optional identifier of the body's schema.
    #[prost(string, optional, tag = "4")]
    pub uuid: Option<String>,
    /// Optional opaque body.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub body: Option<Vec<u8>>,
}

/// One named (or aliased) value of a payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// The metric name; required in BIRTH certificates, may be omitted in DATA when `alias` is set.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// A number standing for `name`, declared in the BIRTH certificate.
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    /// Milliseconds since the Unix epoch, UTC, of this value.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    /// One of the [`datatype`] codes; required in BIRTH certificates.
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    /// A value from the past (store-and-forward), not the current one.
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    /// A value that should not be stored.
    #[prost(bool, optional, tag = "6")]
    pub is_transient: Option<bool>,
    /// The value is null.
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    /// File and multi-part metadata.
    #[prost(message, optional, tag = "8")]
    pub metadata: Option<MetaData>,
    /// Engineering units, ranges and other properties.
    #[prost(message, optional, tag = "9")]
    pub properties: Option<PropertySet>,
    /// The value, typed by `datatype`.
    #[prost(oneof = "MetricValue", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18")]
    pub value: Option<MetricValue>,
}

/// The value of a [`Metric`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricValue {
    /// Int8/16/32 (two's complement in the low bits) and UInt8/16/32.
    #[prost(uint32, tag = "10")]
    IntValue(u32),
    /// Int64 (two's complement), UInt64 and DateTime.
    #[prost(uint64, tag = "11")]
    LongValue(u64),
    /// Float.
    #[prost(float, tag = "12")]
    FloatValue(f32),
    /// Double.
    #[prost(double, tag = "13")]
    DoubleValue(f64),
    /// Boolean.
    #[prost(bool, tag = "14")]
    BooleanValue(bool),
    /// String, Text and UUID.
    #[prost(string, tag = "15")]
    StringValue(String),
    /// Bytes and File.
    #[prost(bytes = "vec", tag = "16")]
    BytesValue(Vec<u8>),
    /// DataSet.
    #[prost(message, tag = "17")]
    DatasetValue(DataSet),
    /// Template (definition or instance).
    #[prost(message, tag = "18")]
    TemplateValue(Template),
}

/// Metadata of a metric, mostly for files and multi-part values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetaData {
    /// The value is one part of several.
    #[prost(bool, optional, tag = "1")]
    pub is_multi_part: Option<bool>,
    /// MIME type.
    #[prost(string, optional, tag = "2")]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[prost(uint64, optional, tag = "3")]
    pub size: Option<u64>,
    /// Part number of a multi-part value.
    #[prost(uint64, optional, tag = "4")]
    pub seq: Option<u64>,
    /// File name.
    #[prost(string, optional, tag = "5")]
    pub file_name: Option<String>,
    /// File type.
    #[prost(string, optional, tag = "6")]
    pub file_type: Option<String>,
    /// MD5 of the value.
    #[prost(string, optional, tag = "7")]
    pub md5: Option<String>,
    /// Free text.
    #[prost(string, optional, tag = "8")]
    pub description: Option<String>,
}

/// Parallel lists of property keys and values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertySet {
    /// Property names.
    #[prost(string, repeated, tag = "1")]
    pub keys: Vec<String>,
    /// Property values, one per key.
    #[prost(message, repeated, tag = "2")]
    pub values: Vec<PropertyValue>,
}

/// One property value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyValue {
    /// A [`datatype`] code.
    #[prost(uint32, optional, tag = "1")]
    pub r#type: Option<u32>,
    /// The value is null.
    #[prost(bool, optional, tag = "2")]
    pub is_null: Option<bool>,
    /// The value.
    #[prost(oneof = "PropertyValueKind", tags = "3, 4, 5, 6, 7, 8, 9, 10")]
    pub value: Option<PropertyValueKind>,
}

/// The value of a [`PropertyValue`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PropertyValueKind {
    /// 32-bit integers.
    #[prost(uint32, tag = "3")]
    IntValue(u32),
    /// 64-bit integers.
    #[prost(uint64, tag = "4")]
    LongValue(u64),
    /// Float.
    #[prost(float, tag = "5")]
    FloatValue(f32),
    /// Double.
    #[prost(double, tag = "6")]
    DoubleValue(f64),
    /// Boolean.
    #[prost(bool, tag = "7")]
    BooleanValue(bool),
    /// String.
    #[prost(string, tag = "8")]
    StringValue(String),
    /// A nested property set.
    #[prost(message, tag = "9")]
    PropertysetValue(PropertySet),
    /// A list of property sets.
    #[prost(message, tag = "10")]
    PropertysetsValue(PropertySetList),
}

/// A list of property sets.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertySetList {
    /// The sets.
    #[prost(message, repeated, tag = "1")]
    pub propertyset: Vec<PropertySet>,
}

/// A table value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSet {
    /// Number of columns.
    #[prost(uint64, optional, tag = "1")]
    pub num_of_columns: Option<u64>,
    /// Column names.
    #[prost(string, repeated, tag = "2")]
    pub columns: Vec<String>,
    /// Column [`datatype`] codes.
    #[prost(uint32, repeated, packed = "false", tag = "3")]
    pub types: Vec<u32>,
    /// The rows.
    #[prost(message, repeated, tag = "4")]
    pub rows: Vec<DataSetRow>,
}

/// One row of a [`DataSet`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSetRow {
    /// One value per column.
    #[prost(message, repeated, tag = "1")]
    pub elements: Vec<DataSetValue>,
}

/// One cell of a [`DataSet`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSetValue {
    /// The cell's value.
    #[prost(oneof = "DataSetValueKind", tags = "1, 2, 3, 4, 5, 6")]
    pub value: Option<DataSetValueKind>,
}

/// The value of a [`DataSetValue`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DataSetValueKind {
    /// 32-bit integers.
    #[prost(uint32, tag = "1")]
    IntValue(u32),
    /// 64-bit integers.
    #[prost(uint64, tag = "2")]
    LongValue(u64),
    /// Float.
    #[prost(float, tag = "3")]
    FloatValue(f32),
    /// Double.
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    /// Boolean.
    #[prost(bool, tag = "5")]
    BooleanValue(bool),
    /// String.
    #[prost(string, tag = "6")]
    StringValue(String),
}

/// A user-defined type (UDT) definition or instance.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Template {
    /// Version of the definition.
    #[prost(string, optional, tag = "1")]
    pub version: Option<String>,
    /// Member metrics.
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// Parameters.
    #[prost(message, repeated, tag = "3")]
    pub parameters: Vec<TemplateParameter>,
    /// The definition an instance refers to.
    #[prost(string, optional, tag = "4")]
    pub template_ref: Option<String>,
    /// A definition rather than an instance.
    #[prost(bool, optional, tag = "5")]
    pub is_definition: Option<bool>,
}

/// A template parameter.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TemplateParameter {
    /// Parameter name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// A [`datatype`] code.
    #[prost(uint32, optional, tag = "2")]
    pub r#type: Option<u32>,
    /// The value.
    #[prost(oneof = "ParameterValue", tags = "3, 4, 5, 6, 7, 8")]
    pub value: Option<ParameterValue>,
}

/// The value of a [`TemplateParameter`] (same members as a dataset cell, other field numbers).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ParameterValue {
    /// 32-bit integers.
    #[prost(uint32, tag = "3")]
    IntValue(u32),
    /// 64-bit integers.
    #[prost(uint64, tag = "4")]
    LongValue(u64),
    /// Float.
    #[prost(float, tag = "5")]
    FloatValue(f32),
    /// Double.
    #[prost(double, tag = "6")]
    DoubleValue(f64),
    /// Boolean.
    #[prost(bool, tag = "7")]
    BooleanValue(bool),
    /// String.
    #[prost(string, tag = "8")]
    StringValue(String),
}

/// Sparkplug B datatype codes (`DataType` enum of the spec) used by this decoder.
pub mod datatype {
    /// Signed 8-bit integer.
    pub const INT8: u32 = 1;
    /// Signed 16-bit integer.
    pub const INT16: u32 = 2;
    /// Signed 32-bit integer.
    pub const INT32: u32 = 3;
    /// Signed 64-bit integer.
    pub const INT64: u32 = 4;
    /// Unsigned 64-bit integer.
    pub const UINT64: u32 = 8;
    /// 32-bit float.
    pub const FLOAT: u32 = 9;
    /// 64-bit float.
    pub const DOUBLE: u32 = 10;
    /// Boolean.
    pub const BOOLEAN: u32 = 11;
    /// Milliseconds since the epoch in a `long_value`.
    pub const DATETIME: u32 = 13;
    /// 32-bit floats packed little-endian in a `bytes_value` (Sparkplug B 3.0).
    pub const FLOAT_ARRAY: u32 = 30;
    /// 64-bit floats packed little-endian in a `bytes_value` (Sparkplug B 3.0).
    pub const DOUBLE_ARRAY: u32 = 31;
}
