"""Applications, above training (chapter 07): what the trained models are used for.

    retrieval     passages and BM25                    qa               questions answered, replies scored
    assistant     a writing assistant                  code_completion  a GPT for Python code, pass@k
    sandbox       generated code run against its tests, isolated
"""
