"""The authoring model: DAGs, operators, task groups, XCom references and params (pure Python)."""
