"""The classroom, the top layer under the command line: the labs' checks and the teacher's tools.

    checks        instant feedback for lab exercises; exercises/ holds each lab's checks
    assign        student versions of the labs      grade        grading submissions
    conventions   the shape every notebook and lab shares
"""
