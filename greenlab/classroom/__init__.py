"""The classroom, the top floor below the command line: labs, their checks, and the teacher's tools.

    checks        instant feedback for lab exercises; exercises/ holds each lab's checks
    assign        student versions of the labs      grade        grading submissions
    conventions   the shape every notebook and lab shares
"""
