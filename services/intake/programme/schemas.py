from marshmallow import Schema, fields


class DocumentRuleSchema(Schema):
    kind = fields.String()
    label = fields.String()
    required = fields.Boolean()
    types = fields.List(fields.String())
    max_bytes = fields.Integer()
    max_pages = fields.Integer()


class ProgrammeSchema(Schema):
    code = fields.String()
    name = fields.String()  # English, as it always was
    names = fields.Dict(keys=fields.String(), values=fields.String())  # by language code
    deadline = fields.AwareDateTime()
    sessions = fields.List(fields.String())
    departments = fields.List(fields.Dict())
    documents = fields.List(fields.Nested(DocumentRuleSchema))
    languages = fields.List(fields.String())
    rules = fields.Dict()
